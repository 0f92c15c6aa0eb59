package shellwords_test

import (
	"fmt"

	"github.com/seed-c77c9410/sidelight/examples/ecs/internal/shellwords"
)

func ExampleSplit() {
	vars := map[string]string{"URL": "http://lb.example"}
	lookup := func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	words, err := shellwords.Split(`curl -s -w '%{http_code}\n' "$URL/orders/[1-20]"`, lookup)
	fmt.Printf("%q %v\n", words, err)
	_, err = shellwords.Split(`curl $NOPE`, lookup)
	fmt.Println(err)
	// Output:
	// ["curl" "-s" "-w" "%{http_code}\\n" "http://lb.example/orders/[1-20]"] <nil>
	// shellwords: variable NOPE is not set
}

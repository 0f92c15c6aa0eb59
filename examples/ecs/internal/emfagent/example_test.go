package emfagent_test

import (
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/seed-c77c9410/sidelight/examples/ecs/internal/emfagent"
)

func Example() {
	agent, err := emfagent.Listen()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer agent.Close()
	// What AWS_EMF_AGENT_ENDPOINT would say; an EMF sink writes lines to it.
	conn, err := net.Dial("tcp", strings.TrimPrefix(agent.Endpoint(), "tcp://"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()
	fmt.Fprintln(conn, `{"_aws":{"Timestamp":0,"CloudWatchMetrics":[]}}`)
	docs, err := agent.WaitFor(context.Background(), func(d [][]byte) bool { return len(d) == 1 })
	fmt.Println(len(docs), err)
	// Output: 1 <nil>
}

package deployversion_test

import (
	"context"
	"fmt"

	"github.com/seed-c77c9410/sidelight/internal/deployversion"
)

func ExampleResolve() {
	otel, _ := deployversion.FromResourceAttributes("service.name=orders,service.version=1.4.2%2Bbuild.7")
	ecs, _ := deployversion.ParseECS([]byte(`{"Family":"orders","Revision":"17"}`), []byte(`{"Image":"registry/orders:1.4.2"}`))
	lambda := deployversion.FromLambda(context.Background(), func(string) string { return "" }) // not on Lambda

	v := deployversion.Resolve(ecs.Version(), lambda.Version(), otel)
	fmt.Println(v.Value, "from", v.Source)
	v = deployversion.Resolve(ecs.Version(), lambda.Version())
	fmt.Println(v.Value, "from", v.Source)

	versions := deployversion.NewBounded(2)
	for _, seen := range []string{"orders:16", "orders:17", "orders:16", "orders:18"} {
		if old, retired := versions.See(seen); retired {
			fmt.Println("retired", old)
		}
	}
	fmt.Println(versions.Versions(), versions.Retired())
	// Output:
	// 1.4.2+build.7 from otel_resource_attributes
	// orders:17 from ecs_task_definition
	// retired orders:17
	// [orders:18 orders:16] 1
}

package cfn_test

import (
	"fmt"

	"github.com/seed-c77c9410/sidelight/internal/cfn"
)

func ExampleTemplate_Resolve() {
	tmpl, err := cfn.Parse([]byte(`{
	  "Parameters": {"Service": {"Type": "String", "Default": "orders"}},
	  "Resources": {"Logs": {"Type": "AWS::Logs::LogGroup",
	    "Properties": {"LogGroupName": {"Fn::Sub": "/ecs/${AWS::StackName}-${Service}"}}}}
	}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	r, err := tmpl.Resolve(map[string]string{"Service": "checkout"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.Resources["Logs"].Properties["LogGroupName"])
	_, err = tmpl.Resolve(map[string]string{"Servce": "checkout"})
	fmt.Println(err)
	// Output:
	// /ecs/sidelight-ecs-checkout
	// cfn: parameter Servce is not in the template
}

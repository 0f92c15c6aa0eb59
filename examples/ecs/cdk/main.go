// Command cdk is the ECS example's stack written with the AWS CDK for Go:
// the same resources, parameters and outputs as ../template.json, built
// from the CloudFormation (L1) constructs so that every property is as
// visible here as in the template. Its test synthesizes the stack and
// checks that it equals template.json.
//
//	go run .                  # writes cdk.out/sidelight-ecs.template.json
//	npx aws-cdk deploy --app "go run ." --parameters VpcId=... (as in ../README.md)
//
// Synthesizing runs the CDK's JavaScript through jsii, so it needs
// Node.js on the PATH.
package main

import (
	"os"

	"encoding/json"
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsxray"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/seed-c77c9410/sidelight/internal/redmetric"
)

// StackName is the stack's name, as in the tutorial.
const StackName = "sidelight-ecs"

func main() {
	defer jsii.Close()
	// The CDK CLI (npx aws-cdk deploy --app ...) names the output folder in
	// CDK_OUTDIR; run directly (go run .), the app writes to cdk.out, where
	// the CLI would, instead of a temporary folder nobody sees.
	props := &awscdk.AppProps{}
	if os.Getenv("CDK_OUTDIR") == "" {
		props.Outdir = s("cdk.out")
	}
	app := awscdk.NewApp(props)
	NewStack(app, StackName)
	app.Synth(nil)
}

var (
	s = jsii.String
	b = jsii.Bool
)

func n(f float64) *float64 { return jsii.Number(f) }

func strs(v ...string) *[]*string { return jsii.Strings(v...) }

// anyList passes a string list (or an encoded list token) where the
// construct takes a list of any.
func anyList(l *[]*string) *[]any {
	out := make([]any, len(*l))
	for i, v := range *l {
		out[i] = v
	}
	return &out
}

// NewStack defines the stack.
func NewStack(scope constructs.Construct, id string) awscdk.Stack {
	stack := awscdk.NewStack(scope, s(id), &awscdk.StackProps{
		StackName: s(id),
		// No bootstrap resources are needed: the stack has no assets.
		Synthesizer:        awscdk.NewBootstraplessSynthesizer(&awscdk.BootstraplessSynthesizerProps{}),
		AnalyticsReporting: b(false),
		Description: s("Sidelight ECS example: the orders service and the Sidelight sidecar in one Fargate task behind an " +
			"Application Load Balancer, with a least-privilege task role, alarms on fault rate and p99 latency, a RED dashboard, and canary deployments " +
			"(ECS's built-in CANARY strategy) that roll back on Sidelight's per-version fault rate and p99 latency."),
	})
	param := func(name string, p *awscdk.CfnParameterProps) awscdk.CfnParameter {
		return awscdk.NewCfnParameter(stack, s(name), p)
	}
	vpcID := param("VpcId", &awscdk.CfnParameterProps{Type: s("AWS::EC2::VPC::Id"), Description: s("VPC to run in.")})
	subnets := param("SubnetIds", &awscdk.CfnParameterProps{Type: s("List<AWS::EC2::Subnet::Id>"),
		Description: s("Two or more public subnets in different Availability Zones (the tasks get public IPs to pull images; the load balancer is internet-facing).")})
	appImage := param("AppImage", &awscdk.CfnParameterProps{Type: s("String"), MinLength: n(1),
		Description: s("Image of the orders service (examples/ecs/app/Dockerfile), such as 123456789012.dkr.ecr.us-east-1.amazonaws.com/sidelight-orders:v1.")})
	sidecarImage := param("SidecarImage", &awscdk.CfnParameterProps{Type: s("String"), MinLength: n(1),
		Description: s("Image of the Sidelight sidecar (sidecar/Dockerfile).")})
	serviceName := param("ServiceName", &awscdk.CfnParameterProps{Type: s("String"), Default: s("orders"), AllowedPattern: s("[A-Za-z0-9_.-]{1,64}"),
		Description: s("Segment name in X-Ray and value of the Service metric dimension.")})
	namespace := param("MetricsNamespace", &awscdk.CfnParameterProps{Type: s("String"), Default: s("Sidelight/Examples"), AllowedPattern: s("[A-Za-z0-9_./#:-]{1,255}"),
		Description: s("CloudWatch namespace of the RED metrics; the task role may write only to it.")})
	tracesExporter := param("TracesExporter", &awscdk.CfnParameterProps{Type: s("String"), Default: s("xray"), AllowedValues: strs("xray", "xray-otlp"),
		Description: s("How the sidecar sends traces to X-Ray: xray calls PutTraceSegments; xray-otlp posts OTLP to X-Ray's OTLP endpoint " +
			"(needs Transaction Search on in the account and region). The task role gets only that exporter's action.")})
	enableSearch := param("EnableTransactionSearch", &awscdk.CfnParameterProps{Type: s("String"), Default: s("false"), AllowedValues: strs("false", "true"),
		Description: s("true creates the account's Transaction Search configuration (spans to the aws/spans log group) and the CloudWatch Logs " +
			"resource policy it needs. It is one per account and region: leave false where it is already on.")})
	indexing := param("TransactionSearchIndexingPercentage", &awscdk.CfnParameterProps{Type: s("Number"), Default: s("1"), MinValue: n(0), MaxValue: n(100),
		Description: s("With EnableTransactionSearch, the percentage of spans X-Ray indexes as trace summaries (1 is free).")})
	desired := param("DesiredCount", &awscdk.CfnParameterProps{Type: s("Number"), Default: s("2"), MinValue: n(1), MaxValue: n(10),
		Description: s("Number of tasks.")})
	allowed := param("AllowedCidr", &awscdk.CfnParameterProps{Type: s("String"), Default: s("0.0.0.0/0"), AllowedPattern: s(`[0-9]{1,3}(\.[0-9]{1,3}){3}/[0-9]{1,2}`),
		Description: s("Who may reach the load balancer on port 80.")})
	faultRate := param("FaultRateThresholdPercent", &awscdk.CfnParameterProps{Type: s("Number"), Default: s("5"), MinValue: n(0), MaxValue: n(100),
		Description: s("Alarm when more than this percentage of requests fail with 5xx: the service alarm judges 3 of 5 minutes, the per-version rollback alarm 2 of 3.")})
	p99 := param("LatencyP99ThresholdMs", &awscdk.CfnParameterProps{Type: s("Number"), Default: s("1000"), MinValue: n(1),
		Description: s("Alarm when the p99 latency exceeds this many milliseconds: the service alarm judges 3 of 5 minutes, the per-version rollback alarm 2 of 3.")})
	canaryPercent := param("CanaryPercent", &awscdk.CfnParameterProps{Type: s("Number"), Default: s("10"), MinValue: n(0.1), MaxValue: n(100),
		Description: s("Percentage of production traffic a new revision gets during the canary phase (multiples of 0.1).")})
	canaryBake := param("CanaryBakeTimeMinutes", &awscdk.CfnParameterProps{Type: s("Number"), Default: s("10"), MinValue: n(0), MaxValue: n(1440),
		Description: s("Minutes the canary runs on that share of traffic, watched by the version alarms, before ECS shifts the rest.")})
	bake := param("BakeTimeMinutes", &awscdk.CfnParameterProps{Type: s("Number"), Default: s("10"), MinValue: n(0), MaxValue: n(1440),
		Description: s("Minutes both revisions stay up after all traffic has shifted, during which an alarm still rolls back at once.")})

	tracesAsOTLP := awscdk.NewCfnCondition(stack, s("TracesAsOTLP"), &awscdk.CfnConditionProps{
		Expression: awscdk.Fn_ConditionEquals(tracesExporter.ValueAsString(), s("xray-otlp"))})
	transactionSearch := awscdk.NewCfnCondition(stack, s("TransactionSearch"), &awscdk.CfnConditionProps{
		Expression: awscdk.Fn_ConditionEquals(enableSearch.ValueAsString(), s("true"))})

	cluster := awsecs.NewCfnCluster(stack, s("Cluster"), &awsecs.CfnClusterProps{
		CapacityProviders: &[]any{"FARGATE"},
		ClusterSettings:   []awsecs.CfnCluster_ClusterSettingsProperty{{Name: s("containerInsights"), Value: s("disabled")}},
	})
	logGroup := awslogs.NewCfnLogGroup(stack, s("LogGroup"), &awslogs.CfnLogGroupProps{
		LogGroupName: awscdk.Fn_Sub(s("/ecs/${AWS::StackName}"), nil), RetentionInDays: n(14),
	})
	logGroup.ApplyRemovalPolicy(awscdk.RemovalPolicy_DESTROY, nil)
	otlpLogGroup := awslogs.NewCfnLogGroup(stack, s("OtlpLogGroup"), &awslogs.CfnLogGroupProps{
		LogGroupName: awscdk.Fn_Sub(s("/ecs/${AWS::StackName}/otlp"), nil), RetentionInDays: n(14),
	})
	otlpLogGroup.ApplyRemovalPolicy(awscdk.RemovalPolicy_DESTROY, nil)

	trust := map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
		"Effect": "Allow", "Principal": map[string]any{"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole",
		"Condition": map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": awscdk.Aws_ACCOUNT_ID()}},
	}}}
	policy := func(statements ...map[string]any) map[string]any {
		list := make([]any, len(statements))
		for i, st := range statements {
			st["Effect"] = "Allow"
			list[i] = st
		}
		return map[string]any{"Version": "2012-10-17", "Statement": list}
	}
	executionRole := awsiam.NewCfnRole(stack, s("ExecutionRole"), &awsiam.CfnRoleProps{
		Description:              s("Lets ECS pull the images and write the containers' output to the log group."),
		AssumeRolePolicyDocument: trust,
		Policies: []awsiam.CfnRole_PolicyProperty{{PolicyName: s("pull-images-and-write-logs"), PolicyDocument: policy(
			map[string]any{"Sid": "PullImages", "Action": []string{"ecr:GetAuthorizationToken", "ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"}, "Resource": "*"},
			map[string]any{"Sid": "ContainerLogs", "Action": []string{"logs:CreateLogStream", "logs:PutLogEvents"}, "Resource": awscdk.Fn_Sub(s("${LogGroup.Arn}"), nil)},
		)}},
	})
	taskRole := awsiam.NewCfnRole(stack, s("TaskRole"), &awsiam.CfnRoleProps{
		Description: s("What the Sidelight sidecar calls: X-Ray PutTraceSegments (TracesExporter xray) or X-Ray's OTLP endpoint, action PutSpans (xray-otlp); " +
			"X-Ray GetSamplingRules and GetSamplingTargets for the SDKs that ask its sampling proxy; CloudWatch PutMetricData in one namespace; " +
			"and CloudWatch Logs for the apps' OTLP logs, in one log group. The orders service itself calls no AWS API."),
		AssumeRolePolicyDocument: trust,
		Policies: []awsiam.CfnRole_PolicyProperty{{PolicyName: s("sidelight-sidecar"), PolicyDocument: policy(
			map[string]any{"Sid": "SendTraces", "Resource": "*",
				// A plain Fn::If: jsii passes the policy document as JSON, which
				// Fn_ConditionIf's token does not survive.
				"Action": map[string]any{"Fn::If": []any{*tracesAsOTLP.LogicalId(), []string{"xray:PutSpans"}, []string{"xray:PutTraceSegments"}}}},
			map[string]any{"Sid": "ProxySampling", "Action": []string{"xray:GetSamplingRules", "xray:GetSamplingTargets"}, "Resource": "*"},
			map[string]any{"Sid": "SendMetrics", "Action": []string{"cloudwatch:PutMetricData"}, "Resource": "*",
				"Condition": map[string]any{"StringEquals": map[string]any{"cloudwatch:namespace": namespace.ValueAsString()}}},
			map[string]any{"Sid": "SendOtlpLogs", "Action": []string{"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"},
				"Resource": awscdk.Fn_Sub(s("${OtlpLogGroup.Arn}"), nil)},
		)}},
	})

	// Transaction Search, as AWS's "Using Transaction Search with AWS
	// CloudFormation" describes it: X-Ray may write spans to aws/spans
	// (and Application Signals data), then the account's configuration.
	searchPolicy := awslogs.NewCfnResourcePolicy(stack, s("TransactionSearchLogsPolicy"), &awslogs.CfnResourcePolicyProps{
		PolicyName: awscdk.Fn_Sub(s("${AWS::StackName}-transaction-search"), nil),
		PolicyDocument: awscdk.Fn_Sub(s(`{"Version":"2012-10-17","Statement":[{"Sid":"TransactionSearchXRayAccess","Effect":"Allow",`+
			`"Principal":{"Service":"xray.amazonaws.com"},"Action":"logs:PutLogEvents","Resource":[`+
			`"arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:aws/spans:*",`+
			`"arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/application-signals/data:*"],`+
			`"Condition":{"ArnLike":{"aws:SourceArn":"arn:${AWS::Partition}:xray:${AWS::Region}:${AWS::AccountId}:*"},`+
			`"StringEquals":{"aws:SourceAccount":"${AWS::AccountId}"}}}]}`), nil),
	})
	searchPolicy.CfnOptions().SetCondition(transactionSearch)
	searchConfig := awsxray.NewCfnTransactionSearchConfig(stack, s("TransactionSearchConfig"), &awsxray.CfnTransactionSearchConfigProps{
		IndexingPercentage: indexing.ValueAsNumber(),
	})
	searchConfig.CfnOptions().SetCondition(transactionSearch)
	searchConfig.AddDependency(searchPolicy)

	awslogsTo := func(prefix string) *awsecs.CfnTaskDefinition_LogConfigurationProperty {
		return &awsecs.CfnTaskDefinition_LogConfigurationProperty{LogDriver: s("awslogs"), Options: map[string]any{
			"awslogs-group": logGroup.Ref(), "awslogs-region": awscdk.Aws_REGION(), "awslogs-stream-prefix": prefix,
		}}
	}
	env := func(kv ...*string) []awsecs.CfnTaskDefinition_KeyValuePairProperty {
		var out []awsecs.CfnTaskDefinition_KeyValuePairProperty
		for i := 0; i+1 < len(kv); i += 2 {
			out = append(out, awsecs.CfnTaskDefinition_KeyValuePairProperty{Name: kv[i], Value: kv[i+1]})
		}
		return out
	}
	port := func(name string, p float64, proto string) awsecs.CfnTaskDefinition_PortMappingProperty {
		return awsecs.CfnTaskDefinition_PortMappingProperty{Name: s(name), ContainerPort: n(p), Protocol: s(proto)}
	}
	const sidecar = "sidelight-sidecar"
	appPort := port("http", 8080, "tcp")
	appPort.AppProtocol = s("http")
	taskDef := awsecs.NewCfnTaskDefinition(stack, s("TaskDefinition"), &awsecs.CfnTaskDefinitionProps{
		Family:                  awscdk.Fn_Sub(s("${AWS::StackName}-${ServiceName}"), nil),
		RequiresCompatibilities: strs("FARGATE"), NetworkMode: s("awsvpc"), Cpu: s("512"), Memory: s("1024"),
		RuntimePlatform:  &awsecs.CfnTaskDefinition_RuntimePlatformProperty{OperatingSystemFamily: s("LINUX"), CpuArchitecture: s("X86_64")},
		ExecutionRoleArn: executionRole.AttrArn(),
		TaskRoleArn:      taskRole.AttrArn(),
		ContainerDefinitions: []awsecs.CfnTaskDefinition_ContainerDefinitionProperty{
			{
				Name: s(sidecar), Image: sidecarImage.ValueAsString(), Essential: b(true), Cpu: n(128), MemoryReservation: n(64), ReadonlyRootFilesystem: b(true),
				PortMappings: []awsecs.CfnTaskDefinition_PortMappingProperty{
					port("xray-udp", 2000, "udp"), port("xray-sampling", 2000, "tcp"), port("emf-tcp", 25888, "tcp"), port("emf-udp", 25888, "udp"),
				},
				Environment: env(s("AWS_REGION"), awscdk.Aws_REGION(), s("SIDELIGHT_SHUTDOWN_TIMEOUT"), s("20s"), s("SIDELIGHT_MEMORY_BUDGET_MIB"), s("32"),
					s("SIDELIGHT_METRICS_FLUSH"), s("60s"), s("SIDELIGHT_LOG_LEVEL"), s("info"),
					s("SIDELIGHT_TRACES_EXPORTER"), tracesExporter.ValueAsString(), s("SIDELIGHT_OTLP_LOG_GROUP"), otlpLogGroup.Ref()),
				HealthCheck:      &awsecs.CfnTaskDefinition_HealthCheckProperty{Command: strs("CMD", "/sidecar", "health"), Interval: n(10), Timeout: n(5), Retries: n(3), StartPeriod: n(10)},
				StopTimeout:      n(30),
				LogConfiguration: awslogsTo("sidecar"),
			},
			{
				Name: s("app"), Image: appImage.ValueAsString(), Essential: b(true), ReadonlyRootFilesystem: b(true),
				PortMappings: []awsecs.CfnTaskDefinition_PortMappingProperty{appPort},
				Environment: env(s("PORT"), s("8080"), s("OTEL_SERVICE_NAME"), serviceName.ValueAsString(), s("AWS_EMF_NAMESPACE"), namespace.ValueAsString(),
					s("AWS_XRAY_DAEMON_ADDRESS"), s("127.0.0.1:2000"), s("AWS_EMF_AGENT_ENDPOINT"), s("tcp://127.0.0.1:25888"),
					s("OTEL_EXPORTER_OTLP_ENDPOINT"), s("http://127.0.0.1:4318"), s(redmetric.VersionEnv), s("true")),
				DependsOn:        []awsecs.CfnTaskDefinition_ContainerDependencyProperty{{ContainerName: s(sidecar), Condition: s("HEALTHY")}},
				StopTimeout:      n(30),
				LogConfiguration: awslogsTo("app"),
			},
		},
	})

	lbSG := awsec2.NewCfnSecurityGroup(stack, s("LoadBalancerSecurityGroup"), &awsec2.CfnSecurityGroupProps{
		GroupDescription: s("Sidelight ECS example: HTTP to the load balancer"), VpcId: vpcID.ValueAsString(),
		SecurityGroupIngress: []awsec2.CfnSecurityGroup_IngressProperty{{IpProtocol: s("tcp"), FromPort: n(80), ToPort: n(80), CidrIp: allowed.ValueAsString(), Description: s("HTTP from AllowedCidr")}},
	})
	svcSG := awsec2.NewCfnSecurityGroup(stack, s("ServiceSecurityGroup"), &awsec2.CfnSecurityGroupProps{
		GroupDescription: s("Sidelight ECS example: the load balancer to the orders service"), VpcId: vpcID.ValueAsString(),
		SecurityGroupIngress: []awsec2.CfnSecurityGroup_IngressProperty{{IpProtocol: s("tcp"), FromPort: n(8080), ToPort: n(8080), SourceSecurityGroupId: lbSG.AttrGroupId(),
			Description: s("Only the load balancer reaches the app; the sidecar's ports stay on the task's localhost")}},
	})
	lb := awselasticloadbalancingv2.NewCfnLoadBalancer(stack, s("LoadBalancer"), &awselasticloadbalancingv2.CfnLoadBalancerProps{
		Type: s("application"), Scheme: s("internet-facing"), Subnets: anyList(subnets.ValueAsList()), SecurityGroups: &[]any{lbSG.AttrGroupId()},
	})
	// ECS moves the tasks of a deployment between two identical target
	// groups.
	targetGroup := func(id string) awselasticloadbalancingv2.CfnTargetGroup {
		return awselasticloadbalancingv2.NewCfnTargetGroup(stack, s(id), &awselasticloadbalancingv2.CfnTargetGroupProps{
			TargetType: s("ip"), Protocol: s("HTTP"), Port: n(8080), VpcId: vpcID.ValueAsString(),
			HealthCheckPath: s("/healthz"), HealthCheckIntervalSeconds: n(10), HealthyThresholdCount: n(2),
			Matcher:               &awselasticloadbalancingv2.CfnTargetGroup_MatcherProperty{HttpCode: s("200")},
			TargetGroupAttributes: []awselasticloadbalancingv2.CfnTargetGroup_TargetGroupAttributeProperty{{Key: s("deregistration_delay.timeout_seconds"), Value: s("15")}},
		})
	}
	tg, altTG := targetGroup("TargetGroup"), targetGroup("AlternateTargetGroup")
	listener := awselasticloadbalancingv2.NewCfnListener(stack, s("Listener"), &awselasticloadbalancingv2.CfnListenerProps{
		LoadBalancerArn: lb.Ref(), Port: n(80), Protocol: s("HTTP"),
		DefaultActions: []awselasticloadbalancingv2.CfnListener_ActionProperty{{Type: s("forward"), TargetGroupArn: tg.Ref()}},
	})
	// The production listener rule whose weights ECS shifts during a
	// deployment.
	rule := awselasticloadbalancingv2.NewCfnListenerRule(stack, s("ListenerRule"), &awselasticloadbalancingv2.CfnListenerRuleProps{
		ListenerArn: listener.Ref(), Priority: n(1),
		Conditions: []awselasticloadbalancingv2.CfnListenerRule_RuleConditionProperty{{Field: s("path-pattern"),
			PathPatternConfig: &awselasticloadbalancingv2.CfnListenerRule_PathPatternConfigProperty{Values: strs("/*")}}},
		Actions: []awselasticloadbalancingv2.CfnListenerRule_ActionProperty{{Type: s("forward"),
			ForwardConfig: &awselasticloadbalancingv2.CfnListenerRule_ForwardConfigProperty{TargetGroups: []awselasticloadbalancingv2.CfnListenerRule_TargetGroupTupleProperty{
				{TargetGroupArn: tg.Ref(), Weight: n(100)}, {TargetGroupArn: altTG.Ref(), Weight: n(0)}}}}},
	})
	infraRole := awsiam.NewCfnRole(stack, s("InfrastructureRole"), &awsiam.CfnRoleProps{
		Description: s("Lets ECS move traffic between the two target groups during a canary or blue/green deployment (the AWS managed policy for ECS load balancer infrastructure)."),
		AssumeRolePolicyDocument: map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
			"Effect": "Allow", "Principal": map[string]any{"Service": "ecs.amazonaws.com"}, "Action": "sts:AssumeRole",
			"Condition": map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": awscdk.Aws_ACCOUNT_ID()}},
		}}},
		ManagedPolicyArns: &[]any{awscdk.Fn_Sub(s("arn:${AWS::Partition}:iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers"), nil)},
	})

	// The rollback alarms read the metrics of the revision being
	// deployed: dimensions Service and Version, where Version is the task
	// definition's family:revision (the end of its ARN), as the
	// middleware reports it on ECS.
	version := awscdk.Fn_Select(n(1), awscdk.Fn_Split(s("/"), taskDef.Ref(), nil))
	versionDims := []awscloudwatch.CfnAlarm_DimensionProperty{
		{Name: s(redmetric.Service), Value: serviceName.ValueAsString()}, {Name: s(redmetric.Version), Value: version}}
	versionMetric := func(name string) *awscloudwatch.CfnAlarm_MetricStatProperty {
		return &awscloudwatch.CfnAlarm_MetricStatProperty{Period: n(60), Stat: s("Sum"), Metric: &awscloudwatch.CfnAlarm_MetricProperty{
			Namespace: namespace.ValueAsString(), MetricName: s(name), Dimensions: versionDims}}
	}
	versionFaults := awscloudwatch.NewCfnAlarm(stack, s("VersionFaultRateAlarm"), &awscloudwatch.CfnAlarmProps{
		AlarmName: awscdk.Fn_Sub(s("${AWS::StackName}-${ServiceName}-version-fault-rate"), nil),
		AlarmDescription: awscdk.Fn_Sub(s("Rollback alarm: more than ${FaultRateThresholdPercent}% of the requests served by the task definition revision being deployed "+
			"answered 5xx in 2 of the last 3 minutes (Faults / Requests, dimensions Service and Version)."), nil),
		Metrics: []awscloudwatch.CfnAlarm_MetricDataQueryProperty{
			{Id: s("faults"), ReturnData: b(false), MetricStat: versionMetric(redmetric.MetricFaults)},
			{Id: s("requests"), ReturnData: b(false), MetricStat: versionMetric(redmetric.MetricRequests)},
			{Id: s("faultRate"), Label: s("Fault rate of the new revision (%)"), ReturnData: b(true), Expression: s("100 * faults / requests")},
		},
		ComparisonOperator: s("GreaterThanThreshold"), Threshold: faultRate.ValueAsNumber(),
		EvaluationPeriods: n(3), DatapointsToAlarm: n(2), TreatMissingData: s("notBreaching"),
	})
	versionP99 := awscloudwatch.NewCfnAlarm(stack, s("VersionLatencyP99Alarm"), &awscloudwatch.CfnAlarmProps{
		AlarmName: awscdk.Fn_Sub(s("${AWS::StackName}-${ServiceName}-version-latency-p99"), nil),
		AlarmDescription: awscdk.Fn_Sub(s("Rollback alarm: p99 latency of the task definition revision being deployed above ${LatencyP99ThresholdMs} ms "+
			"in 2 of the last 3 minutes (Latency, dimensions Service and Version)."), nil),
		Namespace: namespace.ValueAsString(), MetricName: s(redmetric.MetricLatency), Dimensions: versionDims,
		ExtendedStatistic: s("p99"), Period: n(60), Unit: s("Milliseconds"),
		ComparisonOperator: s("GreaterThanThreshold"), Threshold: p99.ValueAsNumber(),
		EvaluationPeriods: n(3), DatapointsToAlarm: n(2), TreatMissingData: s("notBreaching"),
	})

	service := awsecs.NewCfnService(stack, s("Service"), &awsecs.CfnServiceProps{
		Cluster: cluster.Ref(), LaunchType: s("FARGATE"), DesiredCount: desired.ValueAsNumber(), TaskDefinition: taskDef.Ref(),
		HealthCheckGracePeriodSeconds: n(30),
		DeploymentController:          &awsecs.CfnService_DeploymentControllerProperty{Type: s("ECS")},
		DeploymentConfiguration: &awsecs.CfnService_DeploymentConfigurationProperty{
			Strategy: s("CANARY"),
			CanaryConfiguration: &awsecs.CfnService_CanaryConfigurationProperty{CanaryPercent: canaryPercent.ValueAsNumber(),
				CanaryBakeTimeInMinutes: canaryBake.ValueAsNumber()},
			BakeTimeInMinutes:     bake.ValueAsNumber(),
			Alarms:                &awsecs.CfnService_DeploymentAlarmsProperty{AlarmNames: &[]*string{versionFaults.Ref(), versionP99.Ref()}, Enable: b(true), Rollback: b(true)},
			MinimumHealthyPercent: n(100), MaximumPercent: n(200),
			DeploymentCircuitBreaker: &awsecs.CfnService_DeploymentCircuitBreakerProperty{Enable: b(true), Rollback: b(true)}},
		NetworkConfiguration: &awsecs.CfnService_NetworkConfigurationProperty{AwsvpcConfiguration: &awsecs.CfnService_AwsVpcConfigurationProperty{
			AssignPublicIp: s("ENABLED"), Subnets: subnets.ValueAsList(), SecurityGroups: &[]*string{svcSG.AttrGroupId()}}},
		LoadBalancers: []awsecs.CfnService_LoadBalancerProperty{{ContainerName: s("app"), ContainerPort: n(8080), TargetGroupArn: tg.Ref(),
			AdvancedConfiguration: &awsecs.CfnService_AdvancedConfigurationProperty{AlternateTargetGroupArn: altTG.Ref(),
				ProductionListenerRule: rule.Ref(), RoleArn: infraRole.AttrArn()}}},
	})
	service.AddResourceDependency(listener, s("an ECS service with a load balancer needs its listener"))

	metric := func(name string) *awscloudwatch.CfnAlarm_MetricStatProperty {
		return &awscloudwatch.CfnAlarm_MetricStatProperty{Period: n(60), Stat: s("Sum"), Metric: &awscloudwatch.CfnAlarm_MetricProperty{
			Namespace: namespace.ValueAsString(), MetricName: s(name),
			Dimensions: []awscloudwatch.CfnAlarm_DimensionProperty{{Name: s("Service"), Value: serviceName.ValueAsString()}}}}
	}
	awscloudwatch.NewCfnAlarm(stack, s("FaultRateAlarm"), &awscloudwatch.CfnAlarmProps{
		AlarmName: awscdk.Fn_Sub(s("${AWS::StackName}-${ServiceName}-fault-rate"), nil),
		AlarmDescription: awscdk.Fn_Sub(s("More than ${FaultRateThresholdPercent}% of ${ServiceName} requests answered 5xx in 3 of the last 5 minutes "+
			"(Faults / Requests, dimension Service)."), nil),
		Metrics: []awscloudwatch.CfnAlarm_MetricDataQueryProperty{
			{Id: s("faults"), ReturnData: b(false), MetricStat: metric("Faults")},
			{Id: s("requests"), ReturnData: b(false), MetricStat: metric("Requests")},
			{Id: s("faultRate"), Label: s("Fault rate (%)"), ReturnData: b(true), Expression: s("100 * faults / requests")},
		},
		ComparisonOperator: s("GreaterThanThreshold"), Threshold: faultRate.ValueAsNumber(),
		EvaluationPeriods: n(5), DatapointsToAlarm: n(3), TreatMissingData: s("notBreaching"),
	})
	awscloudwatch.NewCfnAlarm(stack, s("LatencyP99Alarm"), &awscloudwatch.CfnAlarmProps{
		AlarmName:        awscdk.Fn_Sub(s("${AWS::StackName}-${ServiceName}-latency-p99"), nil),
		AlarmDescription: awscdk.Fn_Sub(s("p99 latency of ${ServiceName} above ${LatencyP99ThresholdMs} ms in 3 of the last 5 minutes (Latency, dimension Service)."), nil),
		Namespace:        namespace.ValueAsString(), MetricName: s("Latency"),
		Dimensions:        []awscloudwatch.CfnAlarm_DimensionProperty{{Name: s("Service"), Value: serviceName.ValueAsString()}},
		ExtendedStatistic: s("p99"), Period: n(60), Unit: s("Milliseconds"),
		ComparisonOperator: s("GreaterThanThreshold"), Threshold: p99.ValueAsNumber(),
		EvaluationPeriods: n(5), DatapointsToAlarm: n(3), TreatMissingData: s("notBreaching"),
	})
	awscloudwatch.NewCfnDashboard(stack, s("Dashboard"), &awscloudwatch.CfnDashboardProps{
		DashboardName: awscdk.Fn_Sub(s("${AWS::StackName}-${ServiceName}-red"), nil),
		DashboardBody: awscdk.Fn_Sub(s(dashboardBody()), nil),
	})

	out := func(name, desc string, v *string) {
		awscdk.NewCfnOutput(stack, s(name), &awscdk.CfnOutputProps{Description: s(desc), Value: v})
	}
	out("LoadBalancerUrl", "Send requests here.", awscdk.Fn_Sub(s("http://${LoadBalancer.DNSName}"), nil))
	out("ClusterName", "ECS cluster.", cluster.Ref())
	out("LogGroupName", "Output of both containers (stream prefixes app/ and sidecar/).", logGroup.Ref())
	out("DashboardUrl", "The RED dashboard.", awscdk.Fn_Sub(s("https://${AWS::Region}.console.aws.amazon.com/cloudwatch/home?region=${AWS::Region}#dashboards/dashboard/${Dashboard}"), nil))
	out("TaskRoleArn", "The sidecar's permissions.", taskRole.AttrArn())
	return stack
}

// dashboardBody is the dashboard's JSON with ${...} variables for Fn::Sub:
// rate, errors and duration of the service, from the metrics the
// middleware writes (Service alone, or the full Service, Route, Method,
// StatusClass set through SEARCH).
func dashboardBody() string {
	type obj = map[string]any
	metric := func(name, stat string, opts obj) []any {
		o := obj{"stat": stat}
		for k, v := range opts {
			o[k] = v
		}
		return []any{"${MetricsNamespace}", name, "Service", "${ServiceName}", o}
	}
	search := func(name, stat, id string) []any {
		return []any{obj{"id": id, "expression": fmt.Sprintf(
			`SEARCH('{"${MetricsNamespace}",Service,Route,Method,StatusClass} MetricName="%s" Service="${ServiceName}"', '%s', 60)`, name, stat)}}
	}
	widget := func(typ string, x, y, w, h int, props obj) obj {
		return obj{"type": typ, "x": x, "y": y, "width": w, "height": h, "properties": props}
	}
	graph := func(title string, metrics []any, extra obj) obj {
		p := obj{"title": title, "view": "timeSeries", "region": "${AWS::Region}", "period": 60, "metrics": metrics}
		for k, v := range extra {
			p[k] = v
		}
		return p
	}
	line := func(label, param string) obj {
		return obj{"horizontal": []any{obj{"label": label, "value": "@" + param + "@"}}}
	}
	body := obj{"widgets": []any{
		widget("text", 0, 0, 24, 2, obj{"markdown": "## ${ServiceName}: requests, errors, duration\nRED metrics written by the Sidelight middleware " +
			"(namespace `${MetricsNamespace}`), sent to CloudWatch by the Sidelight sidecar. Traces: X-Ray console, query `service(\"${ServiceName}\")`."}),
		widget("alarm", 0, 2, 24, 3, obj{"title": "Alarms", "alarms": []any{"${FaultRateAlarm.Arn}", "${LatencyP99Alarm.Arn}"}}),
		widget("metric", 0, 5, 12, 6, graph("Rate: requests per minute", []any{
			metric("Requests", "Sum", obj{"label": "All routes"}), search("Requests", "Sum", "byRoute"),
		}, obj{"stat": "Sum"})),
		widget("metric", 12, 5, 12, 6, graph("Errors: fault rate (%) and client errors", []any{
			[]any{obj{"expression": "100 * faults / requests", "label": "Fault rate (%)", "id": "rate"}},
			metric("Faults", "Sum", obj{"id": "faults", "visible": false}),
			metric("Requests", "Sum", obj{"id": "requests", "visible": false}),
			metric("ClientErrors", "Sum", obj{"label": "4xx", "yAxis": "right"}),
			metric("Throttles", "Sum", obj{"label": "429", "yAxis": "right"}),
		}, obj{"annotations": line("fault rate alarm", "FaultRateThresholdPercent")})),
		widget("metric", 0, 11, 12, 6, graph("Duration: latency (ms)", []any{
			metric("Latency", "p50", obj{"label": "p50"}), metric("Latency", "p90", obj{"label": "p90"}), metric("Latency", "p99", obj{"label": "p99"}),
		}, obj{"annotations": line("p99 alarm", "LatencyP99ThresholdMs")})),
		widget("metric", 12, 11, 12, 6, graph("Faults and p99 latency by route", []any{
			search("Faults", "Sum", "faultsByRoute"), search("Latency", "p99", "p99ByRoute"),
		}, nil)),
	}}
	raw, err := json.Marshal(body)
	if err != nil {
		panic(err) // a literal above is not JSON: a programming error
	}
	// The thresholds are numbers, so their variables stand unquoted.
	out := string(raw)
	for _, p := range []string{"FaultRateThresholdPercent", "LatencyP99ThresholdMs"} {
		out = strings.ReplaceAll(out, `"@`+p+`@"`, "${"+p+"}")
	}
	return out
}

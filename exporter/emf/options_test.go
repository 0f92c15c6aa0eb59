package emf

import (
	"context"
	"slices"
	"testing"
)

// withGetenv replaces os.Getenv.
func withGetenv(f func(string) string) Option { return optionFunc(func(c *config) { c.getenv = f }) }

func TestEnvironmentDetection(t *testing.T) {
	cases := []struct {
		name       string
		env        map[string]string
		opts       []Option
		wantEnv    Environment
		wantNS     string
		wantSvc    string
		wantType   string
		wantGroup  string
		wantEP     string
		wantDims   []Dimension
		wantStdout bool
	}{
		{name: "nothing set", wantEnv: Local, wantNS: DefaultNamespace, wantSvc: "Unknown", wantType: "Unknown",
			wantEP: DefaultAgentEndpoint, wantStdout: true,
			wantDims: []Dimension{{"ServiceName", "Unknown"}, {"ServiceType", "Unknown"}}},
		{name: "lambda", env: map[string]string{"AWS_LAMBDA_FUNCTION_NAME": "orders", "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/orders",
			"AWS_EMF_LOG_GROUP_NAME": "ignored-in-lambda"},
			wantEnv: Lambda, wantNS: DefaultNamespace, wantSvc: "orders", wantType: "AWS::Lambda::Function", wantEP: DefaultAgentEndpoint,
			wantStdout: true,
			wantDims:   []Dimension{{"ServiceName", "orders"}, {"ServiceType", "AWS::Lambda::Function"}, {"LogGroup", "/aws/lambda/orders"}}},
		{name: "ecs with fluent host", env: map[string]string{"ECS_CONTAINER_METADATA_URI_V4": "http://169.254.170.2/v4/x", "FLUENT_HOST": "cwagent",
			"AWS_EMF_SERVICE_NAME": "api"},
			wantEnv: ECS, wantNS: DefaultNamespace, wantSvc: "api", wantType: "AWS::ECS::Container", wantGroup: "api-metrics",
			wantEP:   "tcp://cwagent:25888",
			wantDims: []Dimension{{"ServiceName", "api"}, {"ServiceType", "AWS::ECS::Container"}, {"LogGroup", "api-metrics"}}},
		{name: "ecs from the execution env", env: map[string]string{"AWS_EXECUTION_ENV": "AWS_ECS_FARGATE"},
			wantEnv: ECS, wantNS: DefaultNamespace, wantSvc: "Unknown", wantType: "AWS::ECS::Container", wantGroup: "Unknown-metrics",
			wantEP:   DefaultAgentEndpoint,
			wantDims: []Dimension{{"ServiceName", "Unknown"}, {"ServiceType", "AWS::ECS::Container"}, {"LogGroup", "Unknown-metrics"}}},
		{name: "agent endpoint implies agent", env: map[string]string{"AWS_EMF_AGENT_ENDPOINT": "udp://127.0.0.1:25888",
			"AWS_EMF_NAMESPACE": "NS", "POWERTOOLS_METRICS_NAMESPACE": "PT", "AWS_EMF_LOG_GROUP_NAME": "lg", "AWS_EMF_LOG_STREAM_NAME": "ls"},
			wantEnv: Agent, wantNS: "NS", wantSvc: "Unknown", wantType: "Unknown", wantGroup: "lg", wantEP: "udp://127.0.0.1:25888",
			wantDims: []Dimension{{"ServiceName", "Unknown"}, {"ServiceType", "Unknown"}, {"LogGroup", "lg"}}},
		{name: "powertools names", env: map[string]string{"POWERTOOLS_METRICS_NAMESPACE": "PT", "POWERTOOLS_SERVICE_NAME": "pay",
			"AWS_EMF_SERVICE_TYPE": "Custom"},
			wantEnv: Local, wantNS: "PT", wantSvc: "pay", wantType: "Custom", wantEP: DefaultAgentEndpoint, wantStdout: true,
			wantDims: []Dimension{{"ServiceName", "pay"}, {"ServiceType", "Custom"}}},
		{name: "explicit ec2, case-insensitive", env: map[string]string{"AWS_EMF_ENVIRONMENT": "ec2", "AWS_LAMBDA_FUNCTION_NAME": "x"},
			wantEnv: EC2, wantNS: DefaultNamespace, wantSvc: "Unknown", wantType: "AWS::EC2::Instance", wantGroup: "Unknown-metrics",
			wantEP:   DefaultAgentEndpoint,
			wantDims: []Dimension{{"ServiceName", "Unknown"}, {"ServiceType", "AWS::EC2::Instance"}, {"LogGroup", "Unknown-metrics"}}},
		{name: "options win", env: map[string]string{"AWS_EMF_NAMESPACE": "NS", "AWS_EMF_ENVIRONMENT": "ECS"},
			opts:    []Option{WithNamespace("Mine"), WithEnvironment(Local), WithServiceName("s"), WithDefaultDimensions(Dimension{"Team", "a"})},
			wantEnv: Local, wantNS: "Mine", wantSvc: "s", wantType: "Unknown", wantEP: DefaultAgentEndpoint, wantStdout: true,
			wantDims: []Dimension{{"Team", "a"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := config{getenv: func(k string) string { return tc.env[k] }}
			for _, o := range tc.opts {
				o.apply(&c)
			}
			if err := c.resolve(); err != nil {
				t.Fatal(err)
			}
			got := []string{string(c.env), c.namespace, c.service, c.svcType, c.logGroup, c.endpoint}
			want := []string{string(tc.wantEnv), tc.wantNS, tc.wantSvc, tc.wantType, tc.wantGroup, tc.wantEP}
			if !slices.Equal(got, want) {
				t.Errorf("env, namespace, service, type, log group, endpoint = %q, want %q", got, want)
			}
			if !slices.Equal(c.defaultDims, tc.wantDims) {
				t.Errorf("default dimensions %v, want %v", c.defaultDims, tc.wantDims)
			}
			s, err := defaultSink(&c)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Shutdown(context.Background())
			if _, isAgent := s.(*AgentSink); isAgent == tc.wantStdout {
				t.Errorf("sink %T, want stdout=%v", s, tc.wantStdout)
			}
		})
	}
}

package ecs

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/ecs"

	"github.com/seed-c77c9410/sidelight/examples/ecs/internal/shellwords"
	"github.com/seed-c77c9410/sidelight/internal/cfn"
	"github.com/seed-c77c9410/sidelight/middleware"
)

// awsChecker checks the commands that need an AWS account without running
// them: the CLI command and its options exist, files exist, and the
// values agree with the template, the task definition and the middleware.
type awsChecker struct {
	t        *testing.T
	vars     map[string]string
	repos    map[string]bool // created ECR repositories
	images   map[string]bool // built image tags
	pushed   map[string]bool // pushed image tags
	deployed *cfn.Resolved
	stack    string
	tmp      string
	emitted  *emitted
	written  map[string]string // file written by a local command → its path here
}

// standIns are values for variables the tutorial sets from AWS's answers.
var standIns = map[string]string{
	"ACCOUNT_ID": "111122223333",
	"VPC_ID":     "vpc-0123456789abcdef0",
	"SUBNET_IDS": "subnet-0123456789abcdef0,subnet-0fedcba9876543210",
	"URL":        "http://sidelight-ecs-loadbalancer-1234567890.us-east-1.elb.amazonaws.com",
}

func newAWSChecker(t *testing.T) *awsChecker {
	r := resolve(t, with(deployValues))
	return &awsChecker{t: t, vars: map[string]string{}, repos: map[string]bool{}, images: map[string]bool{}, pushed: map[string]bool{},
		tmp: t.TempDir(), written: map[string]string{}, emitted: runMiddleware(t, r, containerEnv(t, r, "app"), middleware.MetricNames{})}
}

func (a *awsChecker) lookup(name string) (string, bool) {
	v, ok := a.vars[name]
	return v, ok
}

var exportSubst = regexp.MustCompile(`^export ([A-Z_]+)=\$\((.*)\)$`)

func (a *awsChecker) check(c command) error {
	if m := exportSubst.FindStringSubmatch(c.text); m != nil {
		inner := m[2]
		if strings.HasPrefix(inner, "aws ") {
			if err := a.check(command{text: inner, line: c.line}); err != nil {
				return err
			}
			v, ok := standIns[m[1]]
			if !ok {
				return fmt.Errorf("no stand-in value for %s", m[1])
			}
			a.vars[m[1]] = v
			return nil
		}
		// A local command (date): run it.
		words, err := shellwords.Split(inner, a.lookup)
		if err != nil {
			return err
		}
		if words[0] != "date" {
			return fmt.Errorf("unexpected command substitution %q", inner)
		}
		out, err := exec.Command(words[0], words[1:]...).Output()
		if err != nil {
			return fmt.Errorf("%s: %v", inner, err)
		}
		a.vars[m[1]] = strings.TrimSpace(string(out))
		return nil
	}
	var pipeline [][]string
	for _, part := range strings.Split(c.text, " | ") {
		words, err := shellwords.Split(part, a.lookup)
		if err != nil {
			return err
		}
		pipeline = append(pipeline, words)
	}
	if len(pipeline) == 2 {
		if strings.Join(pipeline[0], " ") != "aws ecr get-login-password" || !slices.Equal(pipeline[1][:5], []string{"docker", "login", "--username", "AWS", "--password-stdin"}) || pipeline[1][5] != a.vars["REGISTRY"] {
			return fmt.Errorf("unexpected pipeline")
		}
		return nil
	}
	words := pipeline[0]
	switch words[0] {
	case "export":
		for _, kv := range words[1:] {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return fmt.Errorf("export %q", kv)
			}
			a.vars[k] = v
		}
		return nil
	case "aws":
		return a.checkAWS(words[1:])
	case "docker":
		return a.checkDocker(words[1:])
	case "curl":
		if !slices.ContainsFunc(words, func(w string) bool { return strings.HasPrefix(w, standIns["URL"]+"/orders/") }) {
			return fmt.Errorf("curl does not ask the stack's load balancer for an order")
		}
		return checkOptions(words[1:], map[string]bool{"-s": false, "-o": true, "-w": true}, 1)
	case "sed":
		return a.runSed(words)
	case "npx":
		return a.checkCDKDeploy(words[1:])
	}
	return fmt.Errorf("the test does not know how to check this command")
}

// checkOptions checks that args are known options (true: takes a value)
// plus at most positional arguments.
func checkOptions(args []string, known map[string]bool, positional int) error {
	n := 0
	for i := 0; i < len(args); i++ {
		takes, ok := known[args[i]]
		switch {
		case ok && takes:
			if i+1 >= len(args) {
				return fmt.Errorf("%s needs a value", args[i])
			}
			i++
		case ok:
		case strings.HasPrefix(args[i], "-"):
			return fmt.Errorf("unknown option %s", args[i])
		default:
			n++
		}
	}
	if n > positional {
		return fmt.Errorf("%d arguments, want at most %d", n, positional)
	}
	return nil
}

// awsOptions lists, per CLI command, its options the tutorial may use
// (true: takes one value, false: a switch) and how many positional
// arguments it takes. Multi-valued options are in multi.
var awsOptions = map[string]struct {
	opts       map[string]bool
	required   []string
	positional int
}{
	"sts get-caller-identity":                   {opts: map[string]bool{"--query": true, "--output": true}},
	"ecr create-repository":                     {opts: map[string]bool{"--repository-name": true}, required: []string{"--repository-name"}},
	"ecr delete-repository":                     {opts: map[string]bool{"--repository-name": true, "--force": false}, required: []string{"--repository-name"}},
	"ec2 describe-vpcs":                         {opts: map[string]bool{"--filters": true, "--query": true, "--output": true}},
	"ec2 describe-subnets":                      {opts: map[string]bool{"--filters": true, "--query": true, "--output": true}},
	"cloudformation deploy":                     {opts: map[string]bool{"--stack-name": true, "--template-file": true, "--capabilities": true, "--parameter-overrides": true}, required: []string{"--stack-name", "--template-file"}},
	"cloudformation describe-stacks":            {opts: map[string]bool{"--stack-name": true, "--query": true, "--output": true}},
	"cloudformation delete-stack":               {opts: map[string]bool{"--stack-name": true}, required: []string{"--stack-name"}},
	"cloudformation wait stack-delete-complete": {opts: map[string]bool{"--stack-name": true}, required: []string{"--stack-name"}},
	"xray get-trace-summaries":                  {opts: map[string]bool{"--start-time": true, "--end-time": true, "--filter-expression": true}, required: []string{"--start-time", "--end-time"}},
	"cloudwatch get-metric-statistics":          {opts: map[string]bool{"--namespace": true, "--metric-name": true, "--dimensions": true, "--statistics": true, "--period": true, "--start-time": true, "--end-time": true}, required: []string{"--namespace", "--metric-name", "--start-time", "--end-time", "--period"}},
	"cloudwatch describe-alarms":                {opts: map[string]bool{"--alarm-name-prefix": true}},
	"logs tail":                                 {opts: map[string]bool{"--follow": false}, positional: 1},
	"logs create-log-group":                     {opts: map[string]bool{"--log-group-name": true}, required: []string{"--log-group-name"}},
	"ecs register-task-definition":              {opts: map[string]bool{"--cli-input-json": true}, required: []string{"--cli-input-json"}},
}

// multi are the options that take several values (until the next option).
var multi = map[string]bool{"--parameter-overrides": true, "--filters": true, "--dimensions": true, "--statistics": true, "--capabilities": true}

func (a *awsChecker) checkAWS(args []string) error {
	name := ""
	var rest []string
	for n := 3; n >= 2; n-- {
		if n <= len(args) {
			if _, ok := awsOptions[strings.Join(args[:n], " ")]; ok {
				name, rest = strings.Join(args[:n], " "), args[n:]
				break
			}
		}
	}
	spec, ok := awsOptions[name]
	if !ok {
		return fmt.Errorf("aws %s: not a command this test knows", strings.Join(args[:min(2, len(args))], " "))
	}
	opts := map[string][]string{}
	var positional []string
	for i := 0; i < len(rest); i++ {
		o := rest[i]
		takes, known := spec.opts[o]
		switch {
		case !strings.HasPrefix(o, "--"):
			positional = append(positional, o)
		case !known:
			return fmt.Errorf("aws %s has no option %s", name, o)
		case multi[o]:
			j := i + 1
			for j < len(rest) && !strings.HasPrefix(rest[j], "--") {
				j++
			}
			if j == i+1 {
				return fmt.Errorf("%s needs values", o)
			}
			opts[o] = rest[i+1 : j]
			i = j - 1
		case takes:
			if i+1 >= len(rest) || strings.HasPrefix(rest[i+1], "--") {
				return fmt.Errorf("%s needs a value", o)
			}
			opts[o] = []string{rest[i+1]}
			i++
		default:
			opts[o] = nil
		}
	}
	if len(positional) > spec.positional {
		return fmt.Errorf("aws %s: unexpected arguments %q", name, positional)
	}
	for _, r := range spec.required {
		if _, ok := opts[r]; !ok {
			return fmt.Errorf("aws %s needs %s", name, r)
		}
	}
	if s, ok := opts["--stack-name"]; ok {
		if a.stack == "" && name == "cloudformation deploy" {
			a.stack = s[0]
		}
		if s[0] != a.stack {
			return fmt.Errorf("stack %q, but the stack deployed is %q", s[0], a.stack)
		}
	}
	for _, f := range opts["--filters"] {
		if !regexp.MustCompile(`^Name=[a-z-]+,Values=[^,]+$`).MatchString(f) {
			return fmt.Errorf("filter %q is not Name=...,Values=...", f)
		}
	}
	if q, ok := opts["--output"]; ok && q[0] != "text" && q[0] != "json" {
		return fmt.Errorf("--output %s", q[0])
	}
	return a.checkSemantics(name, opts, positional)
}

func (a *awsChecker) checkSemantics(name string, opts map[string][]string, positional []string) error {
	t := a.t
	one := func(o string) string { return opts[o][0] }
	if a.deployed == nil && !slices.Contains([]string{"ecr create-repository", "ecr delete-repository", "sts get-caller-identity",
		"ec2 describe-vpcs", "ec2 describe-subnets", "cloudformation deploy", "logs create-log-group", "ecs register-task-definition"}, name) {
		return fmt.Errorf("aws %s before the stack is deployed (or its deploy command failed)", name)
	}
	switch name {
	case "ecr create-repository":
		a.repos[one("--repository-name")] = true
	case "ecr delete-repository":
		if !a.repos[one("--repository-name")] {
			return fmt.Errorf("deletes a repository the tutorial did not create")
		}
	case "cloudformation deploy":
		path := filepath.Join(repoRoot(t), one("--template-file"))
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		tm, err := cfn.Parse(raw)
		if err != nil {
			return err
		}
		values := map[string]string{}
		for _, kv := range opts["--parameter-overrides"] {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return fmt.Errorf("parameter override %q is not Key=Value", kv)
			}
			values[k] = v
		}
		for _, img := range []string{values["AppImage"], values["SidecarImage"]} {
			if !a.pushed[img] {
				return fmt.Errorf("image %q was not built and pushed by the tutorial", img)
			}
		}
		_, s := load(t)
		r, err := s.Check(tm, values)
		if err != nil {
			return err
		}
		if caps := opts["--capabilities"]; !slices.Equal(caps, []string{"CAPABILITY_IAM"}) {
			return fmt.Errorf("capabilities %v, want CAPABILITY_IAM (the roles have no fixed names)", caps)
		}
		a.deployed = r
	case "cloudformation describe-stacks":
		for _, m := range regexp.MustCompile(`OutputKey=='(\w+)'`).FindAllStringSubmatch(one("--query"), -1) {
			if _, ok := a.deployed.Outputs[m[1]]; !ok {
				return fmt.Errorf("the template has no output %s", m[1])
			}
		}
	case "xray get-trace-summaries":
		svc := a.deployed.Parameters["ServiceName"]
		if fe := one("--filter-expression"); !strings.Contains(fe, fmt.Sprintf("service(%q)", svc)) {
			return fmt.Errorf("filter %q is not about the service %q", fe, svc)
		}
	case "cloudwatch get-metric-statistics":
		dims := map[string]string{}
		for _, d := range opts["--dimensions"] {
			m := regexp.MustCompile(`^Name=([^,]+),Value=(.+)$`).FindStringSubmatch(d)
			if m == nil {
				return fmt.Errorf("dimension %q is not Name=...,Value=...", d)
			}
			dims[m[1]] = m[2]
		}
		if err := a.emitted.check(one("--namespace"), one("--metric-name"), dims); err != nil {
			return err
		}
		if one("--namespace") != a.deployed.Parameters["MetricsNamespace"] {
			return fmt.Errorf("namespace %s is not the stack's", one("--namespace"))
		}
	case "cloudwatch describe-alarms":
		n, all := 0, 0
		for _, res := range a.deployed.Resources {
			if res.Type != "AWS::CloudWatch::Alarm" {
				continue
			}
			all++
			if nm, _ := res.Properties["AlarmName"].(string); strings.HasPrefix(nm, one("--alarm-name-prefix")) {
				n++
			}
		}
		if n != all {
			return fmt.Errorf("the prefix matches %d of the stack's %d alarms, want all", n, all)
		}
	case "logs tail":
		if len(positional) != 1 || positional[0] != a.deployed.Resources["LogGroup"].Properties["LogGroupName"] {
			return fmt.Errorf("log group %q is not the stack's %v", positional, a.deployed.Resources["LogGroup"].Properties["LogGroupName"])
		}
	case "logs create-log-group":
		td := readTaskDef(t)
		for _, c := range td.ContainerDefinitions {
			if g := c.LogConfiguration.Options["awslogs-group"]; g != one("--log-group-name") {
				return fmt.Errorf("creates %s, but taskdef.json logs to %s", one("--log-group-name"), g)
			}
		}
	case "ecs register-task-definition":
		file, ok := strings.CutPrefix(one("--cli-input-json"), "file://")
		path, written := a.written[file]
		if !ok || !written {
			return fmt.Errorf("--cli-input-json %s: want file:// and a file an earlier command wrote", one("--cli-input-json"))
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var in ecs.RegisterTaskDefinitionInput
		if err := decodeExact(raw, &in, apiName); err != nil {
			return fmt.Errorf("%s: %v", file, err)
		}
		if !strings.Contains(*in.TaskRoleArn, standIns["ACCOUNT_ID"]) || strings.Contains(string(raw), "123456789012") || strings.Contains(string(raw), "us-east-1") && a.vars["AWS_REGION"] != "us-east-1" {
			return fmt.Errorf("%s still names the example account or region", file)
		}
	}
	return nil
}

func (a *awsChecker) checkDocker(args []string) error {
	switch args[0] {
	case "build":
		if err := checkOptions(args[1:], map[string]bool{"-f": true, "-t": true}, 1); err != nil {
			return err
		}
		var file, tag string
		for i := 1; i+1 < len(args); i++ {
			switch args[i] {
			case "-f":
				file = args[i+1]
			case "-t":
				tag = args[i+1]
			}
		}
		if args[len(args)-1] != "." {
			return fmt.Errorf("the build context must be the repository root (.)")
		}
		repo, _, _ := strings.Cut(strings.TrimPrefix(tag, a.vars["REGISTRY"]+"/"), ":")
		if !strings.HasPrefix(tag, a.vars["REGISTRY"]+"/") || !a.repos[repo] {
			return fmt.Errorf("tag %q is not in a repository the tutorial created", tag)
		}
		if err := checkDockerfile(a.t, filepath.Join(repoRoot(a.t), file)); err != nil {
			return err
		}
		a.images[tag] = true
	case "push":
		if len(args) != 2 || !a.images[args[1]] {
			return fmt.Errorf("pushes %v, which the tutorial did not build", args[1:])
		}
		a.pushed[args[1]] = true
	default:
		return fmt.Errorf("docker %s: not a command this test knows", args[0])
	}
	return nil
}

// runSed runs the tutorial's sed command for real, writing into a
// temporary directory instead of the working directory.
func (a *awsChecker) runSed(words []string) error {
	if len(words) < 3 || words[len(words)-2] != ">" {
		return fmt.Errorf("want sed ... > file")
	}
	out := words[len(words)-1]
	args := words[1 : len(words)-2]
	cmd := exec.Command("sed", args...)
	cmd.Dir = repoRoot(a.t)
	b, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("sed: %v", err)
	}
	path := filepath.Join(a.tmp, filepath.Base(out))
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return err
	}
	a.written[out] = path
	return nil
}

func (a *awsChecker) finish() {
	if a.deployed == nil {
		a.t.Error("the tutorial never deploys the stack")
	}
}

// checkDockerfile checks that a Dockerfile builds a package of this module
// into the binary its ENTRYPOINT runs, and builds that package the same
// way (the command of its RUN line) so a broken build shows here.
func checkDockerfile(t *testing.T, path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var buildCmd []string
	var entry []string
	copies := map[string]string{}
	for _, line := range strings.Split(string(raw), "\n") {
		switch {
		case strings.HasPrefix(line, "RUN ") && strings.Contains(line, " go build "):
			w, err := shellwords.Split(strings.TrimPrefix(line, "RUN "), func(string) (string, bool) { return "", false })
			if err != nil {
				return fmt.Errorf("%s: %v", path, err)
			}
			buildCmd = w
		case strings.HasPrefix(line, "COPY --from=build "):
			f := strings.Fields(line)
			copies[f[3]] = f[2]
		case strings.HasPrefix(line, "ENTRYPOINT "):
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "ENTRYPOINT ")), &entry); err != nil {
				return fmt.Errorf("%s: ENTRYPOINT is not the exec form: %v", path, err)
			}
		}
	}
	if len(buildCmd) == 0 || len(entry) == 0 {
		return fmt.Errorf("%s: no go build RUN line or no ENTRYPOINT", path)
	}
	var env, args []string
	for len(buildCmd) > 0 && strings.Contains(buildCmd[0], "=") {
		env, buildCmd = append(env, buildCmd[0]), buildCmd[1:]
	}
	if len(buildCmd) < 3 || buildCmd[0] != "go" || buildCmd[1] != "build" {
		return fmt.Errorf("%s: unexpected build command %q", path, buildCmd)
	}
	out := ""
	for i := 2; i < len(buildCmd); i++ {
		if buildCmd[i] == "-o" && i+1 < len(buildCmd) {
			out = buildCmd[i+1]
			i++
			continue
		}
		args = append(args, buildCmd[i])
	}
	if copies[entry[0]] != out || out == "" {
		return fmt.Errorf("%s: ENTRYPOINT %s is not the built %s", path, entry[0], out)
	}
	bin := filepath.Join(t.TempDir(), filepath.Base(out))
	cmd := exec.Command("go", append([]string{"build", "-o", bin}, args...)...)
	cmd.Dir = repoRoot(t)
	cmd.Env = append(os.Environ(), env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %s: %v\n%s", path, strings.Join(buildCmd, " "), err, b)
	}
	return nil
}

// checkCDKDeploy checks `npx aws-cdk@2 deploy --app ... --parameters K=V ...`.
func (a *awsChecker) checkCDKDeploy(args []string) error {
	if len(args) < 2 || args[0] != "aws-cdk@2" || args[1] != "deploy" {
		return fmt.Errorf("want npx aws-cdk@2 deploy")
	}
	values := map[string]string{}
	app := ""
	for i := 2; i < len(args); i += 2 {
		if i+1 >= len(args) {
			return fmt.Errorf("%s needs a value", args[i])
		}
		switch args[i] {
		case "--app":
			app = args[i+1]
		case "--parameters":
			k, v, ok := strings.Cut(args[i+1], "=")
			if !ok {
				return fmt.Errorf("--parameters %q is not Key=Value", args[i+1])
			}
			values[k] = v
		default:
			return fmt.Errorf("aws-cdk deploy: option %s is not one this test knows", args[i])
		}
	}
	if !slices.Contains(cdkCommands, app) {
		return fmt.Errorf("--app %q is not the tutorial's CDK app command", app)
	}
	for _, img := range []string{values["AppImage"], values["SidecarImage"]} {
		if !a.pushed[img] {
			return fmt.Errorf("image %q was not built and pushed by the tutorial", img)
		}
	}
	// The CDK app synthesizes template.json (its own test checks that).
	tm, s := load(a.t)
	_, err := s.Check(tm, values)
	return err
}

package xrayotel

import (
	"bytes"

	"github.com/seed-c77c9410/sidelight/internal/jsonenc"
	"github.com/seed-c77c9410/sidelight/internal/otlpspans"
)

// rkey names one resource attribute that a rule reads.
type rkey uint8

const (
	rNone rkey = iota
	rServiceName
	rServiceVersion
	rServiceNamespace
	rServiceInstanceID
	rCloudProvider
	rCloudPlatform
	rCloudAccountID
	rCloudAZ
	rHostID
	rHostType
	rHostImageID
	rHostName
	rContainerName
	rContainerID
	rECSContainerARN
	rECSClusterARN
	rECSTaskARN
	rECSTaskFamily
	rECSLaunchType
	rK8sClusterName
	rK8sPodName
	rLogGroupNames
	rLogGroupARNs
	rSDKName
	rSDKLanguage
	rSDKVersion
	rAutoVersion
	rCount
)

var resourceKeys = map[string]rkey{
	"service.name":            rServiceName,
	"service.version":         rServiceVersion,
	"service.namespace":       rServiceNamespace,
	"service.instance.id":     rServiceInstanceID,
	"cloud.provider":          rCloudProvider,
	"cloud.platform":          rCloudPlatform,
	"cloud.account.id":        rCloudAccountID,
	"cloud.availability_zone": rCloudAZ,
	"host.id":                 rHostID,
	"host.type":               rHostType,
	"host.image.id":           rHostImageID,
	"host.name":               rHostName,
	"container.name":          rContainerName,
	"container.id":            rContainerID,
	"aws.ecs.container.arn":   rECSContainerARN,
	"aws.ecs.cluster.arn":     rECSClusterARN,
	"aws.ecs.task.arn":        rECSTaskARN,
	"aws.ecs.task.family":     rECSTaskFamily,
	"aws.ecs.launchtype":      rECSLaunchType,
	"k8s.cluster.name":        rK8sClusterName,
	"k8s.pod.name":            rK8sPodName,
	"aws.log.group.names":     rLogGroupNames,
	"aws.log.group.arns":      rLogGroupARNs,
	"telemetry.sdk.name":      rSDKName,
	"telemetry.sdk.language":  rSDKLanguage,
	"telemetry.sdk.version":   rSDKVersion,
	"telemetry.auto.version":  rAutoVersion,
}

type resourceFacts struct {
	v [rCount]otlpspans.Value
}

func (f *resourceFacts) gather(attrs []otlpspans.KeyValue) {
	for i := range attrs {
		kv := &attrs[i]
		if kv.Value.Kind() == otlpspans.KindNone {
			continue
		}
		if k := resourceKeys[kv.Key]; k != rNone && f.v[k].Kind() == otlpspans.KindNone {
			f.v[k] = kv.Value
		}
	}
}

func (f *resourceFacts) str(k rkey) string { return valueString(&f.v[k]) }

// Origins X-Ray knows, by the cloud.platform value that implies them.
const (
	OriginEC2        = "AWS::EC2::Instance"
	OriginECS        = "AWS::ECS::Container"
	OriginECSEC2     = "AWS::ECS::EC2"
	OriginECSFargate = "AWS::ECS::Fargate"
	OriginEKS        = "AWS::EKS::Container"
	OriginBeanstalk  = "AWS::ElasticBeanstalk::Environment"
	OriginAppRunner  = "AWS::AppRunner::Service"
)

// origin returns the segment origin the resource implies, or "" when the
// resource is not on AWS or on a platform X-Ray has no origin for.
func (f *resourceFacts) origin() string {
	if p := f.str(rCloudProvider); p != "" && p != "aws" {
		return ""
	}
	switch f.str(rCloudPlatform) {
	case "aws_ec2":
		return OriginEC2
	case "aws_ecs":
		switch f.str(rECSLaunchType) {
		case "ec2":
			return OriginECSEC2
		case "fargate":
			return OriginECSFargate
		}
		return OriginECS
	case "aws_eks":
		return OriginEKS
	case "aws_elastic_beanstalk":
		return OriginBeanstalk
	case "aws_app_runner":
		return OriginAppRunner
	}
	return ""
}

// appendEnvironment appends the members of a segment's aws block that
// describe where the service runs (without braces), setting *comma when it
// wrote any. It sets *ecs to where the "ecs" object is in dst, if it
// wrote one.
func (f *resourceFacts) appendEnvironment(dst []byte, comma *bool, ecs *[2]int) []byte {
	dst = appendField(dst, "account_id", f.str(rCloudAccountID), 0, comma)
	switch f.str(rCloudPlatform) {
	case "aws_ecs":
		mark := len(dst)
		dst = f.appendObject(dst, "ecs", comma, func(dst []byte) []byte {
			c := new(bool)
			name := f.str(rContainerName)
			if name == "" {
				name = f.str(rHostName)
			}
			dst = appendField(dst, "container", name, 0, c)
			dst = appendField(dst, "container_id", f.str(rContainerID), 0, c)
			dst = appendField(dst, "container_arn", f.str(rECSContainerARN), 0, c)
			dst = appendField(dst, "cluster_arn", f.str(rECSClusterARN), 0, c)
			dst = appendField(dst, "task_arn", f.str(rECSTaskARN), 0, c)
			dst = appendField(dst, "task_family", f.str(rECSTaskFamily), 0, c)
			dst = appendField(dst, "launch_type", f.str(rECSLaunchType), 0, c)
			return appendField(dst, "availability_zone", f.str(rCloudAZ), 0, c)
		})
		if len(dst) > mark { // `"ecs":{…}` or `,"ecs":{…}`
			ecs[0], ecs[1] = mark+bytes.IndexByte(dst[mark:], '{'), len(dst)
		}
	case "aws_ec2":
		dst = f.appendObject(dst, "ec2", comma, func(dst []byte) []byte {
			c := new(bool)
			dst = appendField(dst, "instance_id", f.str(rHostID), 0, c)
			dst = appendField(dst, "instance_size", f.str(rHostType), 0, c)
			dst = appendField(dst, "ami_id", f.str(rHostImageID), 0, c)
			return appendField(dst, "availability_zone", f.str(rCloudAZ), 0, c)
		})
	case "aws_eks":
		dst = f.appendObject(dst, "eks", comma, func(dst []byte) []byte {
			c := new(bool)
			dst = appendField(dst, "cluster_name", f.str(rK8sClusterName), 0, c)
			dst = appendField(dst, "pod", f.str(rK8sPodName), 0, c)
			return appendField(dst, "container_id", f.str(rContainerID), 0, c)
		})
	case "aws_elastic_beanstalk":
		dst = f.appendObject(dst, "elastic_beanstalk", comma, func(dst []byte) []byte {
			c := new(bool)
			dst = appendField(dst, "environment_name", f.str(rServiceNamespace), 0, c)
			dst = appendField(dst, "version_label", f.str(rServiceVersion), 0, c)
			// The schema wants a number; an ID that is not one is left out.
			if n, ok := valueInt(&f.v[rServiceInstanceID]); ok {
				dst = jsonenc.AppendKey(dst, "deployment_id", *c)
				*c = true
				dst = jsonenc.AppendInt(dst, n)
			}
			return dst
		})
	}
	dst = f.appendLogGroups(dst, comma)
	if sdk := f.str(rSDKName); sdk != "" {
		dst = f.appendObject(dst, "xray", comma, func(dst []byte) []byte {
			c := new(bool)
			if lang := f.str(rSDKLanguage); lang != "" {
				dst = appendField(dst, "sdk", "opentelemetry for "+lang, 0, c)
			} else {
				dst = appendField(dst, "sdk", sdk, 0, c)
			}
			dst = appendField(dst, "sdk_version", f.str(rSDKVersion), 0, c)
			if f.v[rAutoVersion].Kind() != otlpspans.KindNone {
				dst = jsonenc.AppendKey(dst, "auto_instrumentation", *c)
				*c = true
				dst = append(dst, "true"...)
			}
			return dst
		})
	}
	return dst
}

// appendObject appends "name":{...} with the members fill writes, or
// nothing when fill writes none. (fill keeps its own comma flag: a pointer
// handed to a func value would be a heap allocation per document.)
func (f *resourceFacts) appendObject(dst []byte, name string, comma *bool, fill func([]byte) []byte) []byte {
	mark := len(dst)
	dst = jsonenc.AppendKey(dst, name, *comma)
	dst = append(dst, '{')
	body := len(dst)
	if dst = fill(dst); len(dst) == body {
		return dst[:mark]
	}
	*comma = true
	return append(dst, '}')
}

// appendLogGroups appends "cloudwatch_logs":[{"log_group":…,"arn":…}] from
// aws.log.group.names, pairing each with aws.log.group.arns by position.
func (f *resourceFacts) appendLogGroups(dst []byte, comma *bool) []byte {
	names := f.v[rLogGroupNames].Array()
	if len(names) == 0 {
		if s := f.v[rLogGroupNames].Str(); s != "" {
			names = []otlpspans.KeyValue{{Value: f.v[rLogGroupNames]}}
		}
	}
	arns := f.v[rLogGroupARNs].Array()
	mark := len(dst)
	dst = jsonenc.AppendKey(dst, "cloudwatch_logs", *comma)
	dst = append(dst, '[')
	n := 0
	for i, v := range names {
		name := v.Value.Str()
		if name == "" {
			continue
		}
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
		dst = append(dst, `{"log_group":`...)
		dst = jsonenc.AppendString(dst, name)
		if i < len(arns) {
			if arn := arns[i].Value.Str(); arn != "" {
				dst = append(dst, `,"arn":`...)
				dst = jsonenc.AppendString(dst, arn)
			}
		}
		dst = append(dst, '}')
	}
	if n == 0 {
		return dst[:mark]
	}
	*comma = true
	return append(dst, ']')
}

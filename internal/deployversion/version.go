package deployversion

import (
	"strings"
	"unicode/utf8"
)

// Source says where a version came from. Lower values take precedence in
// [Resolve].
type Source int

// Sources, in order of precedence.
const (
	SourceNone Source = iota
	SourceOption
	SourceOTel
	SourceLambdaVersion
	SourceECSTaskDefinition
	SourceECSImageTag
)

// String returns the source's name as it appears in logs and annotations.
func (s Source) String() string {
	switch s {
	case SourceOption:
		return "option"
	case SourceOTel:
		return "otel_resource_attributes"
	case SourceLambdaVersion:
		return "lambda_function_version"
	case SourceECSTaskDefinition:
		return "ecs_task_definition"
	case SourceECSImageTag:
		return "ecs_image_tag"
	}
	return "none"
}

// AnnotationKey is the segment annotation that carries the version, named
// like the metric dimension (redmetric.Version), so that a trace and a
// metric point of the same version are found by the same word.
const AnnotationKey = "Version"

// MaxLen is the longest version kept, in bytes.
const MaxLen = 256

// Version is a version value and the source it came from. The zero value
// means no version is known.
type Version struct {
	Value  string
	Source Source
}

// Known reports whether v holds a version.
func (v Version) Known() bool { return v.Value != "" && v.Source != SourceNone }

// Explicit returns value as a version set by an option. An empty or
// all-space value yields the zero Version.
func Explicit(value string) Version { return newVersion(value, SourceOption) }

// Resolve returns, of the known versions given, the one whose source
// takes precedence (see the package documentation); the zero Version when
// none is known. When two share a source the first wins.
func Resolve(vs ...Version) Version {
	var best Version
	for _, v := range vs {
		if v.Known() && (!best.Known() || v.Source < best.Source) {
			best = v
		}
	}
	return best
}

// newVersion cleans value and pairs it with src; empty values yield the zero
// Version.
func newVersion(value string, src Source) Version {
	value = clean(value)
	if value == "" {
		return Version{}
	}
	return Version{Value: value, Source: src}
}

// clean trims space, replaces control characters and invalid UTF-8 with
// U+FFFD and cuts to MaxLen bytes at a character boundary.
func clean(s string) string {
	s = strings.TrimSpace(s)
	ok := len(s) <= MaxLen && utf8.ValidString(s)
	for i := 0; ok && i < len(s); i++ {
		ok = s[i] >= 0x20 && s[i] != 0x7f
	}
	if ok {
		return s
	}
	var b strings.Builder
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		if r < 0x20 || r == 0x7f {
			r = utf8.RuneError
		}
		if b.Len()+utf8.RuneLen(r) > MaxLen {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}

package emf

import (
	"fmt"
	"math"
	"strings"
)

// CloudWatch limits. The EMF schema allows 1024-character names; the
// CloudWatch API allows 255, which is the limit that matters.
const (
	maxNameLen           = 255
	maxDimensionValueLen = 1024
	maxDimensionsPerSet  = 30
	maxMetricsPerDoc     = 100
	maxValuesPerMetric   = 100
	// maxDocBytes keeps a document within a CloudWatch Logs event
	// (256 KiB including 26 bytes of overhead), with room for the newline.
	maxDocBytes = 256*1024 - 26 - 1
)

// validNamespace applies CloudWatch's namespace rules: 1–255 characters from
// 0-9A-Za-z . - _ / # : and space, at least one non-space, not "AWS/…".
func validNamespace(ns string) error {
	if len(ns) == 0 || len(ns) > maxNameLen || strings.TrimSpace(ns) == "" {
		return fmt.Errorf("%w: namespace %q must have 1 to %d characters, not all spaces", ErrInvalidName, ns, maxNameLen)
	}
	if strings.HasPrefix(ns, "AWS/") {
		return fmt.Errorf("%w: namespace %q: the AWS/ prefix is reserved", ErrInvalidName, ns)
	}
	for i := 0; i < len(ns); i++ {
		c := ns[i]
		if c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
			continue
		}
		switch c {
		case '.', '-', '_', '/', '#', ':', ' ':
			continue
		}
		return fmt.Errorf("%w: namespace %q: character %q not allowed (0-9A-Za-z . - _ / # : and space)", ErrInvalidName, ns, c)
	}
	return nil
}

// printableASCII reports whether s is 1..max bytes of printable ASCII with at
// least one non-space character.
func printableASCII(s string, max int) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	blank := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e {
			return false
		}
		if c != ' ' {
			blank = false
		}
	}
	return !blank
}

// validKey checks a metric, dimension or property name: 1–255 printable
// ASCII characters, not blank, not the reserved _aws.
func validKey(kind, name string) error {
	if !printableASCII(name, maxNameLen) {
		return fmt.Errorf("%w: %s name %q must be 1 to %d printable ASCII characters, not all spaces", ErrInvalidName, kind, name, maxNameLen)
	}
	if name == "_aws" {
		return fmt.Errorf("%w: %s name _aws is reserved", ErrInvalidName, kind)
	}
	return nil
}

func validDimension(d Dimension) error {
	if err := validKey("dimension", d.Name); err != nil {
		return err
	}
	if d.Name[0] == ':' {
		return fmt.Errorf("%w: dimension name %q must not start with ':'", ErrInvalidName, d.Name)
	}
	// The schema caps dimension references at 250 characters.
	if len(d.Name) > 250 {
		return fmt.Errorf("%w: dimension name %q is over 250 characters", ErrInvalidName, d.Name)
	}
	if !printableASCII(d.Value, maxDimensionValueLen) {
		return fmt.Errorf("%w: dimension %q value %q must be 1 to %d printable ASCII characters, not all spaces", ErrInvalidDimension, d.Name, d.Value, maxDimensionValueLen)
	}
	return nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// Validate reports whether d can be a CloudWatch dimension: a name of 1 to
// 250 printable ASCII characters not starting with ':', and a value of 1 to
// 1024 printable ASCII characters, neither blank.
func (d Dimension) Validate() error { return validDimension(d) }

package xray

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"runtime"
)

// MaxStackFrames is how many frames NewCause records.
const MaxStackFrames = 50

// NewCause describes err (or a recovered panic value) as a Cause, with the
// stack of the caller skip frames up. The exception type is the error's Go
// type, such as *fs.PathError; for a wrapped error chain each error in the
// chain that adds a type is listed, outermost first.
func NewCause(v any, skip int) *Cause {
	c := &Cause{}
	if wd, err := os.Getwd(); err == nil {
		c.WorkingDirectory = wd
	}
	ex := Exception{ID: NewSpanID(), Type: typeName(v), Message: message(v)}
	ex.Stack, ex.Truncated = callerStack(skip+1, MaxStackFrames)
	c.Exceptions = append(c.Exceptions, ex)
	if err, ok := v.(error); ok {
		for inner := errors.Unwrap(err); inner != nil && len(c.Exceptions) < 10; inner = errors.Unwrap(inner) {
			c.Exceptions = append(c.Exceptions, Exception{ID: NewSpanID(), Type: typeName(inner), Message: inner.Error()})
		}
	}
	return c
}

func typeName(v any) string {
	if v == nil {
		return "nil"
	}
	// Reflection here runs only on failures, never on the request path of a
	// successful request.
	return reflect.TypeOf(v).String()
}

func message(v any) string {
	switch x := v.(type) {
	case error:
		return x.Error()
	case string:
		return x
	case fmt.Stringer:
		return x.String()
	default:
		return fmt.Sprint(v)
	}
}

func callerStack(skip, max int) ([]StackFrame, int) {
	pcs := make([]uintptr, max+32)
	n := runtime.Callers(skip+2, pcs)
	frames := runtime.CallersFrames(pcs[:n])
	var out []StackFrame
	total := 0
	for {
		f, more := frames.Next()
		total++
		if len(out) < max {
			out = append(out, StackFrame{Path: f.File, Line: f.Line, Label: f.Function})
		}
		if !more {
			break
		}
	}
	return out, total - len(out)
}

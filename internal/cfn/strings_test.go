package cfn

import (
	"slices"
	"testing"
)

func TestStrings(t *testing.T) {
	for _, tc := range []struct {
		in   any
		want []string
	}{
		{"logs:PutLogEvents", []string{"logs:PutLogEvents"}},
		{[]any{"a", "b"}, []string{"a", "b"}},
		{[]any{"a", map[string]any{"Ref": "X"}, "b"}, []string{"a", "b"}},
		{[]any{}, []string{}},
		{nil, nil},
		{map[string]any{"Fn::GetAtt": []any{"R", "Arn"}}, nil},
	} {
		if got := Strings(tc.in); !slices.Equal(got, tc.want) || (got == nil) != (tc.want == nil) {
			t.Errorf("Strings(%v) = %#v, want %#v", tc.in, got, tc.want)
		}
	}
}

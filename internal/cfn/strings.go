package cfn

// Strings reads a template value that CloudFormation and IAM allow as one
// string or a list of strings (an IAM statement's Action and Resource, a
// principal's Service, DependsOn): the strings, in order; list elements
// that are not strings (an unresolved intrinsic) are left out.
func Strings(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

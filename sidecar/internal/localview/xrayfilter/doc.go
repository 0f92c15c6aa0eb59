// Package xrayfilter parses and evaluates the part of AWS X-Ray's filter
// expression language that the local view's trace summaries can answer,
// so that an expression written for the X-Ray console finds the same
// traces locally, or says which part it cannot answer.
//
// The grammar, case-insensitive for the words AND, OR, NOT, CONTAINS,
// BEGINSWITH, ENDSWITH, true and false:
//
//	expr      = and { "OR" and }
//	and       = unary { "AND" unary }
//	unary     = ( "NOT" | "!" ) unary | "(" expr ")" | condition
//	condition = flag [ ( "=" | "!=" ) bool ]         fault, error, throttle, ok, partial
//	          | number-kw cmp number                   responsetime, duration (seconds), http.status
//	          | string-kw strop string                 http.url, http.method, http.useragent
//	          | annotation [ op value ]                annotation.KEY or annotation[KEY]
//	          | "service" "(" [ string | id ] ")"      id = "id" "(" "name" ":" string [ "," "type" ":" string ] ")"
//	cmp       = "=" | "!=" | "<" | "<=" | ">" | ">="
//	strop     = "=" | "!=" | "CONTAINS" | "BEGINSWITH" | "ENDSWITH"
//
// Strings are in double quotes (\" and \\ escape). An annotation without an
// operator matches traces that have the key; with one, a trace matches
// when any of its values for the key does (numbers compare as numbers).
// The HTTP keywords and responsetime read the trace's root segment (a
// trace whose root has no response status matches no http.status
// condition, != included); duration spans all of its segments;
// service() matches any segment's service name (a type in id() is
// accepted and not compared: the summaries do not keep it).
//
// Keywords X-Ray has and the summaries cannot answer (edge(), group.*,
// rootcause.*, user, http.clientip, service() { … }) are refused with an
// error saying so, never answered with an empty result. Parsing takes time
// linear in the expression, which is at most MaxLength bytes and nests at
// most MaxDepth deep.
package xrayfilter

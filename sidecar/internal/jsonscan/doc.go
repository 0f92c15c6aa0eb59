// Package jsonscan validates JSON documents and walks their members without
// reflection or allocation. The receivers use it to check segment and EMF
// documents at line rate; it accepts exactly what encoding/json.Valid
// accepts (checked by a fuzz test), except that nesting deeper than
// MaxDepth is refused.
package jsonscan

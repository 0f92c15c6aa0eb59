// Package jsonenc appends JSON tokens to byte slices without reflection.
//
// It is the shared hot-path encoder of Sidelight's X-Ray and EMF exporters:
// callers own a buffer (usually pooled), append keys and values to it, and
// write it out. Strings are escaped so that encoding/json decodes them back
// to the same text, with invalid UTF-8 replaced by U+FFFD as encoding/json
// does.
package jsonenc

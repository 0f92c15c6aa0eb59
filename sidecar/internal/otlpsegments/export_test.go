package otlpsegments

// LayoutInfo exposes layoutInfo to the fuzz test.
var LayoutInfo = layoutInfo

// Checkable exposes checkable to the fuzz test.
var Checkable = checkable

package otlpsegments

// LayoutInfo exposes layoutInfo to the fuzz test.
var LayoutInfo = layoutInfo

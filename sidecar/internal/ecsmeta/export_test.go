package ecsmeta

// Parse is parse, for the fuzz test.
var Parse = parse

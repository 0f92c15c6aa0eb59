// Package shellwords splits a POSIX shell command line into words the way
// sh does for the simple commands of the ECS tutorial: single and double
// quotes, backslash escapes, and $NAME / ${NAME} expansion outside single
// quotes. It refuses what it does not handle (command substitution,
// unterminated quotes) instead of guessing.
package shellwords

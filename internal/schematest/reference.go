package schematest

import (
	"embed"
	"io/fs"
	"path"
	"path/filepath"
)

// referenceFS holds the public schemas and samples the tests check
// against. They live in the repository, so that a plain clone tests with
// nothing beside it; testdata/reference/README.md names each file's
// source and licence.
//
//go:embed testdata/reference
var referenceFS embed.FS

// Reference returns the reference data: emf-schema.json,
// xray-segment-schema-v1.0.0.json, cloudformation/ (resource provider
// schemas) and samples/.
func Reference() fs.FS {
	sub, err := fs.Sub(referenceFS, "testdata/reference")
	if err != nil { // cannot happen: the directory is embedded
		panic(err)
	}
	return sub
}

// ReadReference reads one file of the reference data, named by its slash-
// or OS-separated path such as "samples/emf-example-1.json".
func ReadReference(name string) ([]byte, error) {
	return fs.ReadFile(Reference(), path.Clean(filepath.ToSlash(name)))
}

// CloudFormationSchemas returns the folder of CloudFormation resource
// provider schemas (aws-*.json).
func CloudFormationSchemas() fs.FS {
	sub, err := fs.Sub(Reference(), "cloudformation")
	if err != nil { // cannot happen: the directory is embedded
		panic(err)
	}
	return sub
}

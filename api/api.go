// Package api holds the OpenAPI 3.1 document of the public API, embedded in
// the binary and served at /openapi.yaml.
package api

import _ "embed"

// OpenAPI is the document's YAML text.
//
//go:embed openapi.yaml
var OpenAPI []byte

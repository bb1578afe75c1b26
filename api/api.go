// Package api holds the OpenAPI 3.1 documents, embedded in the binary: the
// public API (openapi.yaml, served at /openapi.yaml on the public listener)
// and the admin API (admin.yaml, served at /openapi.yaml on the admin
// listener). Each document stands alone (no $ref between them), so a client
// generator can take either. The layout each keeps is written at its top.
package api

import _ "embed"

// OpenAPI is the public document's YAML text.
//
//go:embed openapi.yaml
var OpenAPI []byte

// Admin is the admin document's YAML text.
//
//go:embed admin.yaml
var Admin []byte

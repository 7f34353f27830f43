// Package api holds the HUMAN server's OpenAPI 3.1 document, kept in the
// repository as api/openapi.json and served at /v1/openapi.json. A test in
// package server fails when the document and the routes disagree.
package api

import _ "embed"

// OpenAPI is the OpenAPI 3.1 document of the HUMAN REST API.
//
//go:embed openapi.json
var OpenAPI []byte

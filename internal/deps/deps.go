package deps

import (
	_ "github.com/expr-lang/expr"
	_ "github.com/goccy/go-yaml"
	_ "github.com/hooklift/gowsdl"
	_ "github.com/invopop/jsonschema"
	_ "github.com/pavlo-v-chernykh/keystore-go/v4"
	_ "github.com/santhosh-tekuri/jsonschema/v6"
	_ "github.com/spf13/cobra"
	_ "github.com/tidwall/gjson"
	_ "go.temporal.io/sdk/client"
	_ "go.temporal.io/sdk/testsuite"
	_ "go.temporal.io/sdk/worker"
	_ "golang.org/x/crypto/ocsp"
	_ "software.sslmate.com/src/go-pkcs12"
)

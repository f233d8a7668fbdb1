package devserver

import (
	"strings"

	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/temporal"
)

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }

func temporalWithDC(sc dynamicconfig.StaticClient) temporal.ServerOption {
	return temporal.WithDynamicConfigClient(sc)
}

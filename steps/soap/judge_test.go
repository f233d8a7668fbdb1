package soap

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/steps/soap/soaptest"
)

// fail_when and retry_when judge a SOAP answer's body tree in the activity.
func TestFailWhenJudgesTheSOAPBody(t *testing.T) {
	srv := httptest.NewServer(&soaptest.Orders{})
	defer srv.Close()
	call := func(failWhen, retryWhen string) error {
		_, err := execute(t, &Activity{}, &SoapRequest{
			CallHeader:  engine.CallHeader{Connection: connFor(t, srv, ""), FailWhen: failWhen, RetryWhen: retryWhen},
			Definitions: ordersDefs(t, ""), Operation: "GetOrderStatus", Body: map[string]any{"OrderId": "42"},
		})
		return err
	}
	if err := call(`${{ response.body.GetOrderStatusResponse.Status != "Shipped" }}`, ""); err != nil {
		t.Fatalf("a shipped order passes: %v", err)
	}
	appErr, res := appError(t, call(`${{ response.body.GetOrderStatusResponse.Status == "Shipped" }}`, ""))
	if appErr.Type() != engine.ErrResponseRejected || !appErr.NonRetryable() || !strings.Contains(appErr.Message(), "Shipped") || res.Response == nil || res.Response.StatusCode != 200 {
		t.Fatalf("fail_when: %v (nonretryable %v), response %+v", appErr, appErr.NonRetryable(), res.Response)
	}
	appErr, _ = appError(t, call("", `${{ response.status_code == 200 && response.body.GetOrderStatusResponse.CustomerId == "C-7" }}`))
	if appErr.Type() != engine.ErrResponseRejected || appErr.NonRetryable() {
		t.Fatalf("retry_when: %v (nonretryable %v)", appErr, appErr.NonRetryable())
	}
}

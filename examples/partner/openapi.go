package partner

import "net/http"

// OpenAPIDocument describes the partner's REST API: customers, their
// orders and acknowledgements. Its schemas are in a second document,
// OpenAPISchemas, which it refers to by a relative $ref, as split
// descriptions do. The partner serves both at /v2/openapi.yaml and
// /v2/openapi/schemas.yaml, behind its client certificate and credential.
const OpenAPIDocument = `openapi: 3.0.3
info:
  title: Example partner API
  version: "2"
servers:
  - url: https://127.0.0.1:8443/v2
paths:
  /customers/{id}:
    get:
      operationId: getCustomer
      summary: Read a customer
      tags: [customers]
      parameters:
        - {name: id, in: path, required: true, schema: {type: string, pattern: '^[0-9]+$'}}
      responses:
        "200":
          description: The customer.
          content:
            application/json:
              schema: {$ref: 'openapi/schemas.yaml#/Customer'}
        "404":
          description: No such customer.
          content:
            application/json:
              schema: {$ref: 'openapi/schemas.yaml#/Error'}
  /customers/{id}/orders:
    get:
      operationId: listCustomerOrders
      summary: List a customer's open orders
      tags: [orders]
      parameters:
        - {name: id, in: path, required: true, schema: {type: string}}
      responses:
        "200":
          description: The orders.
          content:
            application/json:
              schema:
                type: object
                required: [customer, orders]
                properties:
                  customer: {type: string}
                  orders:
                    type: array
                    items: {$ref: 'openapi/schemas.yaml#/Order'}
  /orders/{id}/ack:
    post:
      operationId: acknowledgeOrder
      summary: Acknowledge an order, once per idempotency key
      tags: [orders]
      parameters:
        - {name: id, in: path, required: true, schema: {type: string}}
        - {name: Idempotency-Key, in: header, schema: {type: string}}
      responses:
        "201":
          description: Acknowledged.
          content:
            application/json:
              schema: {$ref: 'openapi/schemas.yaml#/Ack'}
        "200":
          description: Acknowledged before, with this key.
          content:
            application/json:
              schema: {$ref: 'openapi/schemas.yaml#/Ack'}
  /whoami:
    get:
      operationId: whoAmI
      summary: The client certificate the partner sees
      responses:
        "200":
          description: The subject.
          content:
            application/json:
              schema:
                type: object
                properties:
                  client_certificate: {type: string}
`

// OpenAPISchemas holds the schemas OpenAPIDocument refers to.
const OpenAPISchemas = `Customer:
  type: object
  required: [id, name, tier]
  properties:
    id: {type: string}
    name: {type: string}
    tier: {type: string, enum: [bronze, silver, gold]}
Order:
  type: object
  required: [id, status, amount]
  properties:
    id: {type: string}
    status: {type: string, enum: [open, shipped]}
    amount: {type: number}
Ack:
  type: object
  required: [order, acknowledged]
  properties:
    order: {type: string}
    acknowledged: {type: boolean}
    replayed: {type: boolean}
Error:
  type: object
  properties:
    message: {type: string}
`

func serveOpenAPI(mux *http.ServeMux) {
	serve := func(doc string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/yaml")
			_, _ = w.Write([]byte(doc))
		}
	}
	mux.HandleFunc("GET /v2/openapi.yaml", serve(OpenAPIDocument))
	mux.HandleFunc("GET /v2/openapi/schemas.yaml", serve(OpenAPISchemas))
}

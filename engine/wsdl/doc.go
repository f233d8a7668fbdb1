// Package wsdl reads WSDL 1.1 descriptions of SOAP services, builds request
// envelopes from YAML-shaped values and reads responses and faults back
// into trees. It depends on the standard library only, so the client that
// compiles a project (flows) and the worker that calls a partner
// (steps/soap) can both use it; the parsed Definitions are plain data that
// travel inside a workflow plan.
//
// What it reads: WSDL 1.1 with SOAP 1.1 and SOAP 1.2 bindings
// (soapAction, style, address and body/header of both binding namespaces),
// several services and ports (ports of other bindings, such as HTTP GET,
// are left out), wsdl:import, xsd:import and xsd:include resolved by
// relative location (from files or from documents held in memory),
// document/literal (wrapped or bare) and rpc/literal. rpc/encoded is read
// and requests are built as literal XML with the encoding style declared,
// which stacks of that era accept; no xsi:type is written.
//
// Why not github.com/hooklift/gowsdl's types: its root package's init
// creates a gowsdl-cache folder in the temp directory and exits the
// process when it cannot, which a worker with a read-only file system must
// not risk for a package it would use for type declarations only; and its
// types drop what requests need: the order of elements across a sequence
// and its nested choices (they land in separate slices), element and
// attribute form, attributeFormDefault, namespace declarations below the
// schema element, complexContent restriction and everything in the SOAP
// 1.2 binding namespace. This package decodes the same WSDL and XSD
// constructs with its own small reader, which keeps document order and the
// prefixes in scope at every element.
//
// XML safety: documents with a DTD are refused (so no entity expands),
// nesting is limited to MaxDepth and documents to MaxElements elements;
// callers cap sizes.
package wsdl

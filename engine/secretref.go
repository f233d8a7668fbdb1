package engine

import "strings"

// SecretScheme is one provider of secret references: the part of a
// reference before the first colon says where the secret is kept, the rest
// names it there ("env:PARTNER_PASSWORD").
type SecretScheme struct {
	// Name is the scheme, without the colon.
	Name string
	// Form is how a reference of the scheme is written, in capitals where
	// the user names something: "vault:MOUNT/PATH#FIELD".
	Form string
	// Summary says where the secret comes from, for docs: a phrase without
	// final period.
	Summary string
	// Store names the worker configuration a reference needs (a section of
	// agent.yaml, `secrets.vault`); empty when every worker resolves it.
	Store string
}

// SecretSchemes are the secret providers, in the order messages and docs
// list them. It is the one list: the loader, the worker configuration, the
// resolvers, the offline test runner, the JSON Schema and the reference
// (`go generate ./flows`) read it.
var SecretSchemes = []SecretScheme{
	{Name: "env", Form: "env:NAME", Summary: "an environment variable of the worker that runs the step"},
	{Name: "file", Form: "file:PATH", Summary: "the contents of a file on that worker, relative to its project folder, without the final newline"},
	{Name: "vault", Form: "vault:MOUNT/PATH#FIELD", Store: "secrets.vault",
		Summary: "a field of a HashiCorp Vault KV version 2 secret; `#FIELD` may be left out for a secret with one field"},
	{Name: "cyberark", Form: "cyberark:SAFE/OBJECT", Store: "secrets.cyberark",
		Summary: "the password of an account in CyberArk's Central Credential Provider; `#PROPERTY` reads another property"},
}

// SecretSchemeOf returns the scheme named name, or nil.
func SecretSchemeOf(name string) *SecretScheme {
	for i := range SecretSchemes {
		if SecretSchemes[i].Name == name {
			return &SecretSchemes[i]
		}
	}
	return nil
}

// IsSecretRef reports whether s is a reference of a known scheme that names
// something ("env:X", not "env:" nor "C:\keystore.p12").
func IsSecretRef(s string) bool {
	scheme, rest, ok := strings.Cut(s, ":")
	return ok && rest != "" && SecretSchemeOf(scheme) != nil
}

// SecretForms lists how references are written, for messages:
// "env:NAME, file:PATH, vault:MOUNT/PATH#FIELD or cyberark:SAFE/OBJECT".
func SecretForms() string {
	forms := make([]string, len(SecretSchemes))
	for i, s := range SecretSchemes {
		forms[i] = s.Form
	}
	return strings.Join(forms[:len(forms)-1], ", ") + " or " + forms[len(forms)-1]
}

// SecretRefPattern is the regular expression of a reference, for the JSON
// Schema: a known scheme, a colon, and something after it.
func SecretRefPattern() string {
	names := make([]string, len(SecretSchemes))
	for i, s := range SecretSchemes {
		names[i] = s.Name
	}
	return "^(" + strings.Join(names, "|") + "):.+$"
}

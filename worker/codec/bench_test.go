package codec

import (
	"crypto/rand"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
)

// BenchmarkEncodeDecode measures one payload of a typical step result
// (8 KiB) through Encode and Decode.
func BenchmarkEncodeDecode(b *testing.B) {
	raw := make([]byte, KeySize)
	rand.Read(raw)
	k, _ := NewKey(raw)
	c, _ := New(k)
	data := make([]byte, 8<<10)
	rand.Read(data)
	in := []*commonpb.Payload{{Metadata: map[string][]byte{"encoding": []byte("json/plain")}, Data: data}}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		enc, err := c.Encode(in)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Decode(enc); err != nil {
			b.Fatal(err)
		}
	}
}

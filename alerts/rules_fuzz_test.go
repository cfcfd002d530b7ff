package alerts

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/iocd/iocd/defs"
)

// FuzzValidateRule feeds rule JSON, as the API receives it, to
// ValidateRule: it must never panic, and a rule it accepts must be
// accepted again unchanged (normalising twice changes nothing), so the
// engine can re-validate stored rules at start.
func FuzzValidateRule(f *testing.F) {
	for _, seed := range []string{
		`{"name":"Mực nước cao","kind":"threshold","field":"water_cm","op":">","value":200,"clear":190,"for":"30s","keep_firing_for":"1m","severity":"critical","selector":{"site":"tanan","kind":"sensor","tags":{"river":"vam-co"}},"message":{"vi":"Mực nước {{value}} cm tại {{device}}","en":"Water at {{value}} cm at {{device}}"}}`,
		`{"name":"Pin","kind":"threshold","field":"v","op":"<","levels":[{"value":11,"severity":"warning","clear":11.5},{"value":10,"severity":"critical"}],"message":{"vi":"a","en":"b"}}`,
		`{"name":"r","kind":"rate","event":"violation","violation_type":"red_light","count":3,"window":"10m","severity":"minor","message":{"vi":"{{device}}","en":"{{site}}"}}`,
		`{"id":"x","kind":"system","condition":"disk_low","severity":"major","message":{"vi":"{{ value }}","en":"}}"}}`,
		`{"name":"水位","kind":"absence","for":"1m","severity":"info","message":{"vi":"{{","en":"b"}}`,
	} {
		f.Add([]byte(seed))
	}
	for _, r := range DefaultRules() {
		b, _ := json.Marshal(r)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var in defs.AlertRule
		if json.Unmarshal(b, &in) != nil {
			return
		}
		once, err := ValidateRule(in)
		if err != nil {
			return
		}
		twice, err := ValidateRule(once)
		if err != nil {
			t.Fatalf("an accepted rule is refused when validated again: %v\n%+v", err, once)
		}
		if !reflect.DeepEqual(once, twice) {
			t.Fatalf("validating again changed the rule:\n%+v\n%+v", once, twice)
		}
		if !validRuleID(once.ID) {
			t.Fatalf("accepted rule has id %q", once.ID)
		}
	})
}

// FuzzParseRules feeds rules files to the loader: no panic, and every
// rule it returns validates.
func FuzzParseRules(f *testing.F) {
	f.Add([]byte("- name: a\n  kind: offline\n  severity: major\n  message: {vi: a, en: b}\n"))
	f.Add([]byte("- name: b\n  kind: threshold\n  field: x\n  op: '>'\n  value: 1\n  clear: 0.5\n  severity: major\n  for: 1m\n  message: {vi: a, en: b}\n"))
	f.Add([]byte("[]"))
	f.Add([]byte("- {}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		rules, err := parseRules("fuzz.yaml", b)
		if err != nil {
			return
		}
		for _, r := range rules {
			if _, err := ValidateRule(r); err != nil {
				t.Fatalf("loaded rule does not validate: %v", err)
			}
		}
	})
}

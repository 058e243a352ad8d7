// bundle-check merges bundle overlays onto a base bundle with Juju's own bundle code
// (github.com/juju/charm/v12: ReadAndMergeBundleData, BundleData.Verify) and prints what Juju would deploy,
// so the tests can hold the rendered overlay against the code that consumes it.
//
//	bundle-check BASE.yaml [OVERLAY.yaml ...]
//
// With no overlay it describes the base bundle alone, through the same code: what the tests compare with.
//
// The steps follow `juju deploy BASE --overlay OVERLAY` (juju/juju cmd/juju/application/bundle/bundle.go,
// ComposeAndVerifyBundle): the base bundle is verified on its own, then base and overlays are merged by
// charm.ReadAndMergeBundleData, then the merged bundle is verified.
//
// Output (stdout, always, when the files could be read): one JSON object with the merged bundle's
// machines, applications (num_units, to, constraints, options, ...), relations, `warnings` (the strict-YAML
// complaints Juju only prints) and `errors` (Juju's own messages, one per problem). When there are errors,
// each is also written to stderr, one per line, and the exit status is 1. Usage or I/O problems: status 2.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"

	"github.com/juju/charm/v12"
)

type machine struct {
	Constraints string            `json:"constraints,omitempty"`
	Series      string            `json:"series,omitempty"`
	Base        string            `json:"base,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

type application struct {
	Charm       string                 `json:"charm"`
	Channel     string                 `json:"channel,omitempty"`
	Series      string                 `json:"series,omitempty"`
	Base        string                 `json:"base,omitempty"`
	NumUnits    int                    `json:"num_units"`
	To          []string               `json:"to"`
	Constraints string                 `json:"constraints,omitempty"`
	Options     map[string]interface{} `json:"options"`
	Bindings    map[string]string      `json:"bindings,omitempty"`
}

type summary struct {
	// Stage is where Juju stopped: "base" (the base bundle alone is invalid), "merge"
	// (ReadAndMergeBundleData refused), "verify" (the merged bundle is invalid) or "ok".
	Stage        string                 `json:"stage"`
	Series       string                 `json:"series,omitempty"`
	DefaultBase  string                 `json:"default-base,omitempty"`
	Machines     map[string]machine     `json:"machines"`
	Applications map[string]application `json:"applications"`
	Relations    [][]string             `json:"relations"`
	Warnings     []string               `json:"warnings"`
	Errors       []string               `json:"errors"`
}

// messages lists Juju's own messages: a *charm.VerificationError holds one error per problem, and its
// Error() shows only the first ("... (and N more errors)").
func messages(err error) []string {
	if verr, ok := err.(*charm.VerificationError); ok {
		out := make([]string, 0, len(verr.Errors))
		for _, e := range verr.Errors {
			out = append(out, e.Error())
		}
		// The verifier walks Go maps, so its order changes from run to run: sort for stable output.
		sort.Strings(out)
		return out
	}
	return []string{err.Error()}
}

// verify runs BundleData.Verify without constraint, storage and device checkers: Juju's CLI passes
// parsers from juju/juju (core/constraints, storage, devices), which are not part of juju/charm. Nil
// checkers accept every value; the placement, machine, relation and application rules all still run.
func verify(bd *charm.BundleData) error {
	return bd.Verify(nil, nil, nil)
}

func describe(bd *charm.BundleData, s *summary) {
	s.Series, s.DefaultBase = bd.Series, bd.DefaultBase
	for id, m := range bd.Machines {
		if m == nil {
			s.Machines[id] = machine{}
			continue
		}
		s.Machines[id] = machine{Constraints: m.Constraints, Series: m.Series, Base: m.Base, Annotations: m.Annotations}
	}
	for name, a := range bd.Applications {
		if a == nil {
			continue
		}
		app := application{
			Charm: a.Charm, Channel: a.Channel, Series: a.Series, Base: a.Base, NumUnits: a.NumUnits,
			To: a.To, Constraints: a.Constraints, Options: a.Options, Bindings: a.EndpointBindings,
		}
		if app.To == nil {
			app.To = []string{}
		}
		if app.Options == nil {
			app.Options = map[string]interface{}{}
		}
		s.Applications[name] = app
	}
	if bd.Relations != nil {
		s.Relations = bd.Relations
	}
}

func run(paths []string) (summary, int) {
	s := summary{
		Machines: map[string]machine{}, Applications: map[string]application{}, Relations: [][]string{},
		Warnings: []string{}, Errors: []string{},
	}
	var sources []charm.BundleDataSource
	for _, p := range paths {
		src, err := charm.LocalBundleDataSource(p)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bundle-check: %v\n", err)
			return s, 2
		}
		for _, part := range src.Parts() {
			if part.UnmarshallError != nil {
				s.Warnings = append(s.Warnings, fmt.Sprintf("%s: %v", p, part.UnmarshallError))
			}
		}
		sources = append(sources, src)
	}

	fail := func(stage string, err error) (summary, int) {
		s.Stage = stage
		s.Errors = messages(err)
		for _, m := range s.Errors {
			fmt.Fprintln(os.Stderr, m)
		}
		return s, 1
	}

	// Juju verifies the base bundle alone before merging (ComposeAndVerifyBundle's verifyBaseBundle), so
	// an error here is the base's own, not the overlay's.
	if parts := sources[0].Parts(); len(parts) > 0 {
		if err := verify(parts[0].Data); err != nil {
			describe(parts[0].Data, &s)
			return fail("base", err)
		}
	}
	merged, err := charm.ReadAndMergeBundleData(sources...)
	if err != nil {
		return fail("merge", err)
	}
	// The merged bundle is described even when it is refused: the tests show what the overlay did to it.
	describe(merged, &s)
	if err := verify(merged); err != nil {
		return fail("verify", err)
	}
	s.Stage = "ok"
	return s, 0
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: bundle-check BASE.yaml [OVERLAY.yaml ...]")
		os.Exit(2)
	}
	s, status := run(os.Args[1:])
	if status != 2 {
		sort.Strings(s.Warnings)
		out, err := json.MarshalIndent(s, "", "  ")
		if err != nil {
			fmt.Fprintf(os.Stderr, "bundle-check: %v\n", err)
			os.Exit(2)
		}
		fmt.Println(string(out))
	}
	os.Exit(status)
}

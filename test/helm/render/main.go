// Command render is a stand-in for `helm template`, for the chart tests on a machine where neither
// the helm binary nor a cluster can be installed (issue 12). It renders helm/portcullis with Go's
// text/template and sprig, exactly the engine Helm uses, plus the Helm functions the chart calls
// (include, tpl, required, toYaml, fromYaml), and parses every manifest the way Kubernetes tooling
// does (sigs.k8s.io/yaml: YAML 1.1 through go-yaml v2, numbers as float64).
//
// What it reproduces from Helm 3 (pkg/engine, pkg/chartutil), and why each matters to a test:
//   - values: the chart's values.yaml, then each -f file deep-merged in order (maps merge, any
//     other value replaces, a null deletes the key), like `helm template -f a -f b`;
//   - values are decoded like Helm's (YAML 1.1: `off` is false; numbers are float64, so templates
//     must use `int` where Helm needs it);
//   - one template set per chart, named "<chart>/templates/<file>", partials (`_*`) not rendered,
//     NOTES.txt rendered apart, `missingkey=zero` and "<no value>" erased;
//   - `.Release` (Name, Namespace, Service, IsInstall, IsUpgrade, Revision), `.Chart` (Chart.yaml
//     with Helm's capitalised field names), `.Template` (Name, BasePath);
//   - sprig's function map without `env` and `expandenv`, which Helm removes.
//
// What it refuses, so that the chart cannot rely on something these tests do not prove: `lookup`
// (not defined: a template using it fails to parse), subcharts (a `charts/` directory or
// `dependencies` in Chart.yaml), `.Files` and `.Capabilities` (absent: using them fails).
// values.schema.json is checked by the caller (ajv, test/helm/chart.ts) against the merged values
// this command prints, before it looks at the manifests — the order Helm follows.
//
// Build (GOPATH mode, Debian's packaged sources, offline):
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o render test/helm/render/main.go
//
// Run: render -chart helm/portcullis [-f values.yaml]... [-name R] [-namespace NS]
// Output (stdout, JSON): {"values": {...}, "manifests": [{"template", "text", "object"}],
// "notes": "..."} or {"values": {...}, "error": "..."}; exit 0 either way once values are merged.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig"
	yaml "gopkg.in/yaml.v2"
)

type valueFiles []string

func (v *valueFiles) String() string     { return strings.Join(*v, ",") }
func (v *valueFiles) Set(s string) error { *v = append(*v, s); return nil }

type manifest struct {
	Template string                 `json:"template"`
	Text     string                 `json:"text"`
	Object   map[string]interface{} `json:"object"`
}

type output struct {
	Values    map[string]interface{} `json:"values"`
	Manifests []manifest             `json:"manifests,omitempty"`
	Notes     string                 `json:"notes,omitempty"`
	Error     string                 `json:"error,omitempty"`
}

func main() {
	chartDir := flag.String("chart", "", "chart directory")
	name := flag.String("name", "release", "release name")
	namespace := flag.String("namespace", "default", "release namespace")
	var files valueFiles
	flag.Var(&files, "f", "values file (repeatable, later files win)")
	flag.Parse()
	if *chartDir == "" {
		fatal(errors.New("-chart is required"))
	}
	chart, err := loadChart(*chartDir)
	if err != nil {
		fatal(err)
	}
	values, err := mergedValues(chart.values, files)
	if err != nil {
		fatal(err)
	}
	out := output{Values: values}
	manifests, notes, err := render(chart, values, *name, *namespace)
	if err != nil {
		out.Error = err.Error()
	} else {
		out.Manifests = manifests
		out.Notes = notes
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	fmt.Fprintf(os.Stderr, "render: %v\n", err)
	os.Exit(2)
}

type chart struct {
	name      string
	metadata  map[string]interface{}
	values    map[string]interface{}
	templates map[string]string // "<chart>/templates/<rel>" -> text
}

func loadChart(dir string) (*chart, error) {
	metaText, err := os.ReadFile(filepath.Join(dir, "Chart.yaml"))
	if err != nil {
		return nil, err
	}
	meta, err := decodeMap(metaText)
	if err != nil {
		return nil, fmt.Errorf("Chart.yaml: %v", err)
	}
	name, _ := meta["name"].(string)
	if name == "" {
		return nil, errors.New("Chart.yaml: name is required")
	}
	if deps, ok := meta["dependencies"].([]interface{}); ok && len(deps) > 0 {
		return nil, errors.New("Chart.yaml: dependencies (subcharts) are not supported by this renderer")
	}
	if info, err := os.Stat(filepath.Join(dir, "charts")); err == nil && info.IsDir() {
		return nil, errors.New("a charts/ directory (subcharts) is not supported by this renderer")
	}
	values := map[string]interface{}{}
	if text, err := os.ReadFile(filepath.Join(dir, "values.yaml")); err == nil {
		if values, err = decodeMap(text); err != nil {
			return nil, fmt.Errorf("values.yaml: %v", err)
		}
	} else if !os.IsNotExist(err) {
		return nil, err
	}
	templates := map[string]string{}
	root := filepath.Join(dir, "templates")
	err = filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		text, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		templates[path.Join(name, "templates", filepath.ToSlash(rel))] = string(text)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &chart{name: name, metadata: chartObject(meta), values: values, templates: templates}, nil
}

// chartObject gives `.Chart` Helm's field names (chart.Metadata is a Go struct: .Chart.AppVersion).
func chartObject(meta map[string]interface{}) map[string]interface{} {
	special := map[string]string{"apiVersion": "APIVersion", "appVersion": "AppVersion", "kubeVersion": "KubeVersion"}
	out := map[string]interface{}{}
	for k, v := range meta {
		if s, ok := special[k]; ok {
			out[s] = v
		} else if k != "" {
			out[strings.ToUpper(k[:1])+k[1:]] = v
		}
	}
	return out
}

func mergedValues(defaults map[string]interface{}, files []string) (map[string]interface{}, error) {
	user := map[string]interface{}{}
	for _, f := range files {
		text, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		m, err := decodeMap(text)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", f, err)
		}
		mergeMaps(user, m)
	}
	return coalesce(deepCopy(defaults).(map[string]interface{}), user), nil
}

// mergeMaps merges the -f files among themselves (Helm's mergeMaps): later wins, maps recursively;
// nulls are kept so that coalesce can delete the chart default they name.
func mergeMaps(dst, src map[string]interface{}) {
	for k, v := range src {
		if sm, ok := v.(map[string]interface{}); ok {
			if dm, ok := dst[k].(map[string]interface{}); ok {
				mergeMaps(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
}

// coalesce lays the user's values over the chart's (Helm's coalesceValues): a null deletes.
func coalesce(dst, src map[string]interface{}) map[string]interface{} {
	for k, v := range src {
		if v == nil {
			delete(dst, k)
			continue
		}
		if sm, ok := v.(map[string]interface{}); ok {
			if dm, ok := dst[k].(map[string]interface{}); ok {
				dst[k] = coalesce(dm, sm)
				continue
			}
			dst[k] = coalesce(map[string]interface{}{}, sm)
			continue
		}
		dst[k] = v
	}
	return dst
}

func deepCopy(v interface{}) interface{} {
	switch t := v.(type) {
	case map[string]interface{}:
		out := make(map[string]interface{}, len(t))
		for k, e := range t {
			out[k] = deepCopy(e)
		}
		return out
	case []interface{}:
		out := make([]interface{}, len(t))
		for i, e := range t {
			out[i] = deepCopy(e)
		}
		return out
	default:
		return v
	}
}

// decode parses YAML the way sigs.k8s.io/yaml does (go-yaml v2, YAML 1.1), then gives it JSON's
// shape: string keys, float64 numbers — what Helm's values and every Kubernetes client see.
func decode(text []byte) (interface{}, error) {
	var raw interface{}
	if err := yaml.Unmarshal(text, &raw); err != nil {
		return nil, err
	}
	return jsonShape(raw)
}

func decodeMap(text []byte) (map[string]interface{}, error) {
	v, err := decode(text)
	if err != nil {
		return nil, err
	}
	if v == nil {
		return map[string]interface{}{}, nil
	}
	m, ok := v.(map[string]interface{})
	if !ok {
		return nil, fmt.Errorf("expected a mapping at the top level, got %T", v)
	}
	return m, nil
}

func jsonShape(v interface{}) (interface{}, error) {
	switch t := v.(type) {
	case map[interface{}]interface{}:
		out := make(map[string]interface{}, len(t))
		for k, e := range t {
			s, err := jsonShape(e)
			if err != nil {
				return nil, err
			}
			out[fmt.Sprint(k)] = s
		}
		return out, nil
	case []interface{}:
		out := make([]interface{}, len(t))
		for i, e := range t {
			s, err := jsonShape(e)
			if err != nil {
				return nil, err
			}
			out[i] = s
		}
		return out, nil
	case int:
		return float64(t), nil
	case int64:
		return float64(t), nil
	case uint64:
		return float64(t), nil
	case float64, string, bool, nil:
		return t, nil
	default:
		return nil, fmt.Errorf("unsupported YAML value %T (%v)", v, v)
	}
}

// toYAML is Helm's toYaml: JSON first (sorted keys, 1000000 not 1e+06), then YAML, no final newline.
func toYAML(v interface{}) string {
	j, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	var obj interface{}
	if err := yaml.Unmarshal(j, &obj); err != nil {
		return ""
	}
	out, err := yaml.Marshal(obj)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(out), "\n")
}

// fromYAML is Helm's fromYaml: a map, or {"Error": message} when the text does not parse.
func fromYAML(s string) map[string]interface{} {
	m, err := decodeMap([]byte(s))
	if err != nil {
		return map[string]interface{}{"Error": err.Error()}
	}
	return m
}

func required(msg string, v interface{}) (interface{}, error) {
	if v == nil {
		return v, errors.New(msg)
	}
	if s, ok := v.(string); ok && s == "" {
		return v, errors.New(msg)
	}
	return v, nil
}

// Helm's limit on nested include/tpl calls, which turns a recursive named template into an error.
const recursionMaxNums = 1000

func funcMap(set **template.Template) template.FuncMap {
	funcs := sprig.TxtFuncMap()
	delete(funcs, "env")
	delete(funcs, "expandenv")
	depth := 0
	funcs["toYaml"] = toYAML
	funcs["fromYaml"] = fromYAML
	funcs["required"] = required
	funcs["include"] = func(name string, data interface{}) (string, error) {
		if depth++; depth > recursionMaxNums {
			return "", fmt.Errorf("rendering template has a nested reference name: %s", name)
		}
		defer func() { depth-- }()
		var buf bytes.Buffer
		if err := (*set).ExecuteTemplate(&buf, name, data); err != nil {
			return "", err
		}
		return buf.String(), nil
	}
	funcs["tpl"] = func(text string, data interface{}) (string, error) {
		if depth++; depth > recursionMaxNums {
			return "", errors.New("tpl: nested too deeply")
		}
		defer func() { depth-- }()
		clone, err := (*set).Clone()
		if err != nil {
			return "", err
		}
		t, err := clone.New("tpl").Option("missingkey=zero").Parse(text)
		if err != nil {
			return "", fmt.Errorf("tpl: %v", err)
		}
		var buf bytes.Buffer
		if err := t.Execute(&buf, data); err != nil {
			return "", fmt.Errorf("tpl: %v", err)
		}
		return strings.ReplaceAll(buf.String(), "<no value>", ""), nil
	}
	return funcs
}

// Helm's releaseutil.SplitManifests separator.
var separator = regexp.MustCompile(`(?:^|\s*\n)---\s*`)

func render(c *chart, values map[string]interface{}, name, namespace string) ([]manifest, string, error) {
	var set *template.Template
	set = template.New(c.name).Option("missingkey=zero").Funcs(funcMap(&set))
	names := make([]string, 0, len(c.templates))
	for n := range c.templates {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if _, err := set.New(n).Parse(c.templates[n]); err != nil {
			return nil, "", err
		}
	}
	release := map[string]interface{}{
		"Name": name, "Namespace": namespace, "Service": "Helm", "IsInstall": true, "IsUpgrade": false, "Revision": 1,
	}
	var manifests []manifest
	notes := ""
	for _, n := range names {
		base := path.Base(n)
		if strings.HasPrefix(base, "_") {
			continue
		}
		ctx := map[string]interface{}{
			"Values": values, "Release": release, "Chart": c.metadata,
			"Template": map[string]interface{}{"Name": n, "BasePath": path.Join(c.name, "templates")},
		}
		var buf bytes.Buffer
		if err := set.ExecuteTemplate(&buf, n, ctx); err != nil {
			return nil, "", err
		}
		text := strings.ReplaceAll(buf.String(), "<no value>", "")
		if base == "NOTES.txt" {
			notes = text
			continue
		}
		for _, doc := range separator.Split(text, -1) {
			if strings.TrimSpace(stripComments(doc)) == "" {
				continue
			}
			obj, err := decodeMap([]byte(doc))
			if err != nil {
				return nil, "", fmt.Errorf("%s: rendered YAML does not parse: %v\n%s", n, err, doc)
			}
			if _, ok := obj["kind"].(string); !ok {
				return nil, "", fmt.Errorf("%s: a rendered document has no kind:\n%s", n, doc)
			}
			if _, ok := obj["apiVersion"].(string); !ok {
				return nil, "", fmt.Errorf("%s: a rendered document has no apiVersion:\n%s", n, doc)
			}
			manifests = append(manifests, manifest{Template: n, Text: strings.TrimSpace(doc) + "\n", Object: obj})
		}
	}
	return manifests, notes, nil
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, line := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

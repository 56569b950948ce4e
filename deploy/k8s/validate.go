// Package k8s validates Stratus's Kubernetes manifests without a cluster:
// every overlay under overlays/ is built with kustomize's Go API (krusty),
// every object it yields is decoded strictly into its typed Kubernetes API
// struct (an unknown, misspelt or duplicated field fails, as
// `kubectl apply --validate=strict` would), custom resources (Strimzi's
// Kafka, KafkaNodePool and KafkaTopic, the Flink operator's FlinkDeployment)
// are validated against the openAPIV3Schema of the published CRDs in
// testdata/crds with the API server's own code (pruning reports unknown
// fields, then schema and CEL validation), and the objects' references to
// each other are checked (CheckReferences).
//
// It is a module of its own (github.com/stratusml/stratus/deploy/k8s) so
// that the Kubernetes libraries stay out of the stratus binary; run it with
// `cd deploy/k8s && go test ./...` or deploy/check.sh.
package k8s

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiext "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// Object is one built manifest: its kind and name, its content as a generic
// map, and, for Kubernetes' own kinds, the typed struct it decoded into.
type Object struct {
	GVK       schema.GroupVersionKind
	Namespace string
	Name      string
	Map       map[string]any
	Typed     runtime.Object // nil for custom resources
}

// ID names the object in messages: Kind/namespace/name.
func (o *Object) ID() string {
	if o.Namespace == "" {
		return o.GVK.Kind + "/" + o.Name
	}
	return o.GVK.Kind + "/" + o.Namespace + "/" + o.Name
}

// Build runs kustomize on the kustomization in dir (on disk) and returns
// each resulting object as YAML.
func Build(dir string) ([][]byte, error) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	var docs [][]byte
	for _, r := range m.Resources() {
		b, err := r.AsYAML()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.CurId(), err)
		}
		docs = append(docs, b)
	}
	return docs, nil
}

// crdVersion is what validates one served version of a CRD.
type crdVersion struct {
	structural *structuralschema.Structural
	validator  apiservervalidation.SchemaValidator
	cel        *cel.Validator // nil when the schema has no x-kubernetes-validations
	namespaced bool
}

// Validator decodes and validates objects: Kubernetes' own kinds through a
// strict serializer over the typed structs, custom resources through their
// CRDs' schemas.
type Validator struct {
	scheme *runtime.Scheme
	strict *kjson.Serializer
	crds   map[schema.GroupVersionKind]*crdVersion
}

// NewValidator knows the built-in API groups Stratus's manifests use and the
// CRDs in crdDir (every *.yaml file there).
func NewValidator(crdDir string) (*Validator, error) {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, batchv1.AddToScheme, autoscalingv2.AddToScheme,
		policyv1.AddToScheme, networkingv1.AddToScheme, rbacv1.AddToScheme, apiextv1.AddToScheme,
	} {
		if err := add(s); err != nil {
			return nil, err
		}
	}
	v := &Validator{
		scheme: s,
		strict: kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, s, s, kjson.SerializerOptions{Yaml: true, Strict: true}),
		crds:   map[schema.GroupVersionKind]*crdVersion{},
	}
	files, err := filepath.Glob(filepath.Join(crdDir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no CRDs in %s", crdDir)
	}
	for _, f := range files {
		if err := v.addCRD(f); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
	}
	return v, nil
}

func (v *Validator) addCRD(path string) error {
	src, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	obj, _, err := v.strict.Decode(src, nil, nil)
	if err != nil {
		return err
	}
	crd, ok := obj.(*apiextv1.CustomResourceDefinition)
	if !ok {
		return fmt.Errorf("not a CustomResourceDefinition: %T", obj)
	}
	for _, ver := range crd.Spec.Versions {
		if !ver.Served {
			continue
		}
		if ver.Schema == nil || ver.Schema.OpenAPIV3Schema == nil {
			return fmt.Errorf("version %s has no openAPIV3Schema", ver.Name)
		}
		internal := &apiext.JSONSchemaProps{}
		if err := apiextv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(ver.Schema.OpenAPIV3Schema, internal, nil); err != nil {
			return err
		}
		ss, err := structuralschema.NewStructural(internal)
		if err != nil {
			return fmt.Errorf("version %s: not a structural schema: %w", ver.Name, err)
		}
		val, _, err := apiservervalidation.NewSchemaValidator(internal)
		if err != nil {
			return err
		}
		gvk := schema.GroupVersionKind{Group: crd.Spec.Group, Version: ver.Name, Kind: crd.Spec.Names.Kind}
		v.crds[gvk] = &crdVersion{
			structural: ss,
			validator:  val,
			cel:        cel.NewValidator(ss, true, celconfig.PerCallLimit),
			namespaced: crd.Spec.Scope == apiextv1.NamespaceScoped,
		}
	}
	return nil
}

// CRDKinds lists the custom resource kinds the validator knows.
func (v *Validator) CRDKinds() []string {
	var out []string
	for gvk := range v.crds {
		out = append(out, gvk.String())
	}
	sort.Strings(out)
	return out
}

// Decode decodes one YAML document strictly and validates it: a built-in
// kind into its typed struct (unknown, misspelt or duplicated fields are
// errors), a custom resource against its CRD. An unknown kind is an error
// too: nothing reaches the cluster unchecked.
func (v *Validator) Decode(doc []byte) (*Object, error) {
	j, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return nil, fmt.Errorf("yaml: %w", err)
	}
	var tm metav1.TypeMeta
	if err := sigsjson.UnmarshalCaseSensitivePreserveInts(j, &tm); err != nil {
		return nil, err
	}
	gvk := schema.FromAPIVersionAndKind(tm.APIVersion, tm.Kind)
	var m map[string]any
	if err := utiljson.Unmarshal(j, &m); err != nil {
		return nil, err
	}
	o := &Object{GVK: gvk, Map: m}
	if md, ok := m["metadata"].(map[string]any); ok {
		o.Name, _ = md["name"].(string)
		o.Namespace, _ = md["namespace"].(string)
	}
	if o.Name == "" {
		return nil, fmt.Errorf("%s without metadata.name", gvk.Kind)
	}

	if v.scheme.Recognizes(gvk) {
		typed, _, err := v.strict.Decode(doc, nil, nil)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", o.ID(), err)
		}
		o.Typed = typed
		return o, nil
	}
	crd, ok := v.crds[gvk]
	if !ok {
		return nil, fmt.Errorf("%s: unknown kind %s (neither a built-in type nor a CRD in testdata/crds)", o.ID(), gvk)
	}
	if err := crd.validate(j, m); err != nil {
		return nil, fmt.Errorf("%s: %w", o.ID(), err)
	}
	return o, nil
}

// validate is what the API server does to a custom resource on create with
// strict field validation: metadata must be an ObjectMeta, fields the schema
// does not know are errors (pruning), then defaults, the schema and its CEL
// rules.
func (c *crdVersion) validate(j []byte, m map[string]any) error {
	var errs []error
	if md, ok := m["metadata"]; ok {
		b, _ := utiljson.Marshal(md)
		var meta metav1.ObjectMeta
		strictErrs, err := sigsjson.UnmarshalStrict(b, &meta, sigsjson.DisallowUnknownFields)
		if err != nil {
			return fmt.Errorf("metadata: %w", err)
		}
		for _, e := range strictErrs {
			errs = append(errs, fmt.Errorf("metadata: %w", e))
		}
	}
	// Duplicate or case-mismatched fields are caught by the strict YAML→JSON
	// step and by pruning (names are case-sensitive there).
	pruned := runtime.DeepCopyJSONValue(m).(map[string]any)
	opts := structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true}
	for _, p := range pruning.PruneWithOptions(pruned, c.structural, true, opts) {
		errs = append(errs, fmt.Errorf("unknown field %q", p))
	}
	defaulting.Default(pruned, c.structural)
	for _, e := range apiservervalidation.ValidateCustomResource(nil, pruned, c.validator) {
		errs = append(errs, e)
	}
	if c.cel != nil {
		celErrs, _ := c.cel.Validate(context.Background(), field.NewPath(""), c.structural, pruned, nil, celconfig.RuntimeCELCostBudget)
		for _, e := range celErrs {
			errs = append(errs, e)
		}
	}
	return errors.Join(errs...)
}

// BuildAndDecode builds the overlay in dir and decodes every object
// (Decode), returning all problems together.
func (v *Validator) BuildAndDecode(dir string) ([]*Object, error) {
	docs, err := Build(dir)
	if err != nil {
		return nil, err
	}
	var objs []*Object
	var errs []error
	for _, d := range docs {
		o, err := v.Decode(d)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		objs = append(objs, o)
	}
	return objs, errors.Join(errs...)
}

// path reads a nested field of a generic object: path(m, "spec", "replicas").
func path(m map[string]any, keys ...string) any {
	var cur any = m
	for _, k := range keys {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[k]
	}
	return cur
}

// str is path(...) as a string ("" when absent or not a string).
func str(m map[string]any, keys ...string) string {
	s, _ := path(m, keys...).(string)
	return s
}

// num is path(...) as an int64 (0, false when absent or not a number).
func num(m map[string]any, keys ...string) (int64, bool) {
	switch n := path(m, keys...).(type) {
	case int64:
		return n, true
	case float64:
		return int64(n), true
	}
	return 0, false
}

// decodeInto converts part of a generic object into a typed struct,
// strictly.
func decodeInto(v any, out any) error {
	b, err := utiljson.Marshal(v)
	if err != nil {
		return err
	}
	strictErrs, err := sigsjson.UnmarshalStrict(b, out, sigsjson.DisallowUnknownFields)
	if err != nil {
		return err
	}
	return errors.Join(strictErrs...)
}

// containsAll reports whether every key=value of sub is in set.
func containsAll(set, sub map[string]string) bool {
	for k, v := range sub {
		if set[k] != v {
			return false
		}
	}
	return true
}

// sortedKeys lists a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// joinSorted joins a list after sorting a copy of it.
func joinSorted(xs []string) string {
	c := append([]string{}, xs...)
	sort.Strings(c)
	return strings.Join(c, ", ")
}

// Command flytepods turns TaskTemplates compiled by flytekit (`pyflyte package`) into the Pods
// FlytePropeller v1.16.8 would create for them, using Flyte's own code on Flyte's own path:
// the k8s plugin manager's Handle -> launchResource -> the container ("pod") plugin's
// BuildResource (BuildRawPod, ApplyFlytePodConfiguration, MergeWithBasePodTemplate), the
// secret annotations and inject-flyte-secrets label that flytepropeller adds itself
// (newTaskExecutionMetadata, MarshalSecretsToMapStrings), and addObjectMetadata. The Pod is taken
// from the Create call the plugin manager makes, exactly as it would go to the API server.
//
// Only what a running propeller gets from its surroundings is supplied here, with fixed values so
// the output is reproducible: the execution's identity and FlyteWorkflow owner, the labels
// FlyteAdmin puts on the FlyteWorkflow, the input/output locations, and Flyte's default plugin
// configuration. See ../README.md.
//
//	flytepods -in DIR -out DIR [-pod-template FILE]
//
// DIR holds the *_1.pb files (admin.TaskSpec) of an extracted `pyflyte package` archive; one
// <task-name>.json Pod per task is written to -out.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"google.golang.org/protobuf/proto"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	k8sfake "k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/flyteorg/flyte/flyteidl/gen/pb-go/flyteidl/admin"
	"github.com/flyteorg/flyte/flyteidl/gen/pb-go/flyteidl/core"
	"github.com/flyteorg/flyte/flyteplugins/go/tasks/pluginmachinery/catalog"
	pluginsCore "github.com/flyteorg/flyte/flyteplugins/go/tasks/pluginmachinery/core"
	"github.com/flyteorg/flyte/flyteplugins/go/tasks/pluginmachinery/flytek8s"
	"github.com/flyteorg/flyte/flyteplugins/go/tasks/pluginmachinery/io"
	"github.com/flyteorg/flyte/flyteplugins/go/tasks/pluginmachinery/k8s"
	"github.com/flyteorg/flyte/flyteplugins/go/tasks/plugins/k8s/pod"
	executormocks "github.com/flyteorg/flyte/flytepropeller/pkg/controller/executors/mocks"
	k8splugins "github.com/flyteorg/flyte/flytepropeller/pkg/controller/nodes/task/k8s"
	"github.com/flyteorg/flyte/flytestdlib/contextutils"
	"github.com/flyteorg/flyte/flytestdlib/logger"
	"github.com/flyteorg/flyte/flytestdlib/promutils"
	"github.com/flyteorg/flyte/flytestdlib/promutils/labeled"
	"github.com/flyteorg/flyte/flytestdlib/storage"
)

// The execution every pod belongs to, as FlyteAdmin would have created it.
const (
	project   = "flytesnacks"
	domain    = "development"
	namespace = project + "-" + domain
	execName  = "f7b1c2d3e4a5b6c7d8e9"
	bucket    = "s3://my-s3-bucket"
)

// ---- the task execution context propeller hands a plugin, with fixed values ----

type taskReader struct{ tmpl *core.TaskTemplate }

func (r taskReader) Read(context.Context) (*core.TaskTemplate, error) { return r.tmpl, nil }
func (r taskReader) Path(context.Context) (storage.DataReference, error) {
	return storage.DataReference(fmt.Sprintf("%s/metadata/propeller/%s-%s-%s/task.pb", bucket, project, domain, execName)), nil
}

type paths struct{ node string }

func (p paths) prefix() string {
	return fmt.Sprintf("%s/metadata/propeller/%s-%s-%s/%s/data", bucket, project, domain, execName, p.node)
}
func (p paths) GetInputPrefixPath() storage.DataReference {
	return storage.DataReference(p.prefix() + "/inputs")
}
func (p paths) GetInputPath() storage.DataReference {
	return storage.DataReference(p.prefix() + "/inputs.pb")
}
func (p paths) Get(context.Context) (*core.LiteralMap, error) { return &core.LiteralMap{}, nil }
func (p paths) GetOutputPrefixPath() storage.DataReference {
	return storage.DataReference(p.prefix() + "/0")
}
func (p paths) GetOutputPath() storage.DataReference {
	return storage.DataReference(p.prefix() + "/0/outputs.pb")
}
func (p paths) GetDeckPath() storage.DataReference {
	return storage.DataReference(p.prefix() + "/0/deck.html")
}
func (p paths) GetErrorPath() storage.DataReference {
	return storage.DataReference(p.prefix() + "/0/error.pb")
}
func (p paths) GetRawOutputPrefix() storage.DataReference {
	return storage.DataReference(fmt.Sprintf("%s/data/ab/%s-%s-0", bucket, execName, p.node))
}
func (p paths) GetCheckpointPrefix() storage.DataReference {
	return storage.DataReference(fmt.Sprintf("%s/data/ab/%s-%s-0/_flytecheckpoints", bucket, execName, p.node))
}
func (p paths) GetPreviousCheckpointsPrefix() storage.DataReference { return "" }
func (p paths) Put(context.Context, io.OutputReader) error          { return nil }

// overrides: a node without overrides. Propeller's compiler still gives it an empty (not nil)
// ResourceRequirements (transformers/k8s/node.go: ToK8sResourceRequirements(nil)).
type overrides struct{}

func (overrides) GetResources() *v1.ResourceRequirements        { return &v1.ResourceRequirements{} }
func (overrides) GetExtendedResources() *core.ExtendedResources { return nil }
func (overrides) GetContainerImage() string                     { return "" }
func (overrides) GetPodTemplate() *core.K8SPod                  { return nil }
func (overrides) GetConfig() *v1.ConfigMap                      { return nil }

type taskExecutionID struct {
	node string
	id   core.TaskExecutionIdentifier
}

func (t taskExecutionID) GetGeneratedName() string { return fmt.Sprintf("%s-%s-0", execName, t.node) }
func (t taskExecutionID) GetGeneratedNameWith(int, int) (string, error) {
	return t.GetGeneratedName(), nil
}
func (t taskExecutionID) GetID() core.TaskExecutionIdentifier { return t.id }
func (t taskExecutionID) GetUniqueNodeID() string             { return t.node }

type metadata struct {
	tmpl *core.TaskTemplate
	id   taskExecutionID
}

func (m metadata) GetOwnerID() k8stypes.NamespacedName {
	return k8stypes.NamespacedName{Namespace: namespace, Name: execName}
}
func (m metadata) GetTaskExecutionID() pluginsCore.TaskExecutionID { return m.id }
func (m metadata) GetNamespace() string                            { return namespace }
func (m metadata) GetOwnerReference() metav1.OwnerReference {
	yes := true
	return metav1.OwnerReference{
		APIVersion: "flyte.lyft.com/v1alpha1", Kind: "FlyteWorkflow", Name: execName,
		UID: "3f1c9a52-7d0e-4b6a-9c1e-2a4b6c8d0e1f", Controller: &yes, BlockOwnerDeletion: &yes,
	}
}
func (m metadata) GetOverrides() pluginsCore.TaskOverrides { return overrides{} }

// GetLabels: what FlyteAdmin puts on the FlyteWorkflow plus what propeller adds per node
// (node_exec_context.go: node-id, task-name, interruptible).
func (m metadata) GetLabels() map[string]string {
	return map[string]string{
		"domain": domain, "execution-id": execName, "project": project, "shard-key": "21",
		"workflow-name": "flyte-pods-workflow", "node-id": m.id.node,
		"task-name": sanitizeLabel(m.tmpl.GetId().GetName()), "interruptible": "false",
	}
}
func (m metadata) GetMaxAttempts() uint32            { return 1 }
func (m metadata) GetAnnotations() map[string]string { return map[string]string{} }
func (m metadata) GetK8sServiceAccount() string      { return "" }
func (m metadata) GetSecurityContext() core.SecurityContext {
	// What FlyteAdmin resolves for an execution launched without a service account of its own.
	return core.SecurityContext{RunAs: &core.Identity{K8SServiceAccount: "default"}}
}
func (m metadata) IsInterruptible() bool { return false }

// GetPlatformResources: the admin's task resource attributes (defaults and limits), which propeller
// passes on from the execution config; these are the values in Flyte's Helm charts.
func (m metadata) GetPlatformResources() *v1.ResourceRequirements {
	return &v1.ResourceRequirements{
		Requests: v1.ResourceList{v1.ResourceCPU: resource.MustParse("100m"), v1.ResourceMemory: resource.MustParse("500Mi")},
		Limits:   v1.ResourceList{v1.ResourceCPU: resource.MustParse("2"), v1.ResourceMemory: resource.MustParse("1Gi")},
	}
}
func (m metadata) GetInterruptibleFailureThreshold() int32    { return 1 }
func (m metadata) GetEnvironmentVariables() map[string]string { return map[string]string{} }
func (m metadata) GetConsoleURL() string                      { return "" }

// The plugin manager's own state round trip: nothing launched yet.
type stateReader struct{}

func (stateReader) GetStateVersion() uint8         { return 0 }
func (stateReader) Get(interface{}) (uint8, error) { return 0, nil }

type stateWriter struct{}

func (stateWriter) Put(uint8, interface{}) error { return nil }
func (stateWriter) Reset() error                 { return nil }

type taskContext struct {
	md   metadata
	io   paths
	tmpl *core.TaskTemplate
}

func (c taskContext) ResourceManager() pluginsCore.ResourceManager             { return nil }
func (c taskContext) SecretManager() pluginsCore.SecretManager                 { return nil }
func (c taskContext) TaskRefreshIndicator() pluginsCore.SignalAsync            { return nil }
func (c taskContext) DataStore() *storage.DataStore                            { return nil }
func (c taskContext) PluginStateReader() pluginsCore.PluginStateReader         { return stateReader{} }
func (c taskContext) TaskReader() pluginsCore.TaskReader                       { return taskReader{c.tmpl} }
func (c taskContext) InputReader() io.InputReader                              { return c.io }
func (c taskContext) TaskExecutionMetadata() pluginsCore.TaskExecutionMetadata { return c.md }
func (c taskContext) OutputWriter() io.OutputWriter                            { return c.io }
func (c taskContext) PluginStateWriter() pluginsCore.PluginStateWriter         { return stateWriter{} }
func (c taskContext) Catalog() catalog.AsyncClient                             { return nil }
func (c taskContext) EventsRecorder() pluginsCore.EventsRecorder               { return nil }

// ---- the cluster side: a client that records what propeller creates ----

type recordingClient struct {
	client.Client
	created []client.Object
}

func (r *recordingClient) Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error {
	r.created = append(r.created, obj.DeepCopyObject().(client.Object))
	return nil
}

type kubeClient struct{ c client.Client }

func (k kubeClient) GetClient() client.Client { return k.c }
func (k kubeClient) GetCache() cache.Cache    { return &executormocks.FakeInformers{} }

type setupContext struct{ kube pluginsCore.KubeClient }

func (s setupContext) EnqueueOwner() pluginsCore.EnqueueOwner {
	return func(k8stypes.NamespacedName) error { return nil }
}
func (s setupContext) OwnerKind() string                                { return "FlyteWorkflow" }
func (s setupContext) MetricsScope() promutils.Scope                    { return promutils.NewTestScope() }
func (s setupContext) KubeClient() pluginsCore.KubeClient               { return s.kube }
func (s setupContext) SecretManager() pluginsCore.SecretManager         { return nil }
func (s setupContext) ResourceRegistrar() pluginsCore.ResourceRegistrar { return nil }

func sanitizeLabel(s string) string {
	s = strings.ToLower(strings.NewReplacer("_", "-", ".", "-").Replace(s))
	if len(s) > 63 {
		s = s[:63]
	}
	return strings.Trim(s, "-")
}

// newManager sets up the container plugin under propeller's k8s plugin manager, as propeller
// does at start-up (the metric keys are propeller's, from its main).
func newManager(ctx context.Context, recorder *recordingClient) (*k8splugins.PluginManager, error) {
	labeled.SetMetricKeys(contextutils.AppNameKey, contextutils.ProjectKey, contextutils.DomainKey, contextutils.WorkflowIDKey, contextutils.TaskIDKey)
	return k8splugins.NewPluginManager(ctx, setupContext{kube: kubeClient{recorder}}, k8s.PluginEntry{
		ID:                  "container",
		RegisteredTaskTypes: []pluginsCore.TaskType{"container", "python-task", "raw-container"},
		ResourceToWatch:     &v1.Pod{},
		Plugin:              pod.DefaultPodPlugin,
		IsDefault:           true,
	}, k8splugins.NewResourceMonitorIndex(), k8sfake.NewSimpleClientset())
}

// podFor runs the plugin manager on one TaskTemplate and returns the Pod it asked to create.
func podFor(ctx context.Context, manager *k8splugins.PluginManager, recorder *recordingClient, tmpl *core.TaskTemplate, node string) (*v1.Pod, error) {
	recorder.created = nil
	id := taskExecutionID{node: node, id: core.TaskExecutionIdentifier{
		TaskId: tmpl.GetId(),
		NodeExecutionId: &core.NodeExecutionIdentifier{
			NodeId:      node,
			ExecutionId: &core.WorkflowExecutionIdentifier{Project: project, Domain: domain, Name: execName},
		},
		RetryAttempt: 0,
	}}
	tCtx := taskContext{md: metadata{tmpl: tmpl, id: id}, io: paths{node: node}, tmpl: tmpl}
	transition, err := manager.Handle(ctx, tCtx)
	if err != nil {
		return nil, err
	}
	if info := transition.Info(); info.Phase() != pluginsCore.PhaseQueued {
		return nil, fmt.Errorf("plugin manager did not launch the pod: phase %v, %v", info.Phase(), info.Err())
	}
	if len(recorder.created) != 1 {
		return nil, fmt.Errorf("expected one created object, got %d", len(recorder.created))
	}
	return recorder.created[0].(*v1.Pod), nil
}

func main() {
	in := flag.String("in", "", "directory with the *_1.pb task specs of an extracted pyflyte package")
	out := flag.String("out", "", "directory to write one <task>.json Pod per task")
	podTemplate := flag.String("pod-template", "", "a PodTemplate (JSON) the cluster holds, as propeller's PodTemplate informer would see it")
	flag.Parse()
	if *in == "" || *out == "" {
		fmt.Fprintln(os.Stderr, "usage: flytepods -in DIR -out DIR")
		os.Exit(2)
	}
	files, err := filepath.Glob(filepath.Join(*in, "*_1.pb"))
	if err != nil || len(files) == 0 {
		fmt.Fprintf(os.Stderr, "flytepods: no task specs (*_1.pb) in %s\n", *in)
		os.Exit(1)
	}
	sort.Strings(files)
	if *podTemplate != "" {
		raw, err := os.ReadFile(*podTemplate)
		check(err)
		template := &v1.PodTemplate{}
		check(json.Unmarshal(raw, template))
		flytek8s.DefaultPodTemplateStore.Store(template)
	}
	// Propeller's own info logs (one block per container) would bury the one line per task below.
	check(logger.SetConfig(&logger.Config{Level: logger.WarnLevel}))
	ctx := context.Background()
	recorder := &recordingClient{Client: fake.NewClientBuilder().Build()}
	manager, err := newManager(ctx, recorder)
	check(err)
	for i, file := range files {
		raw, err := os.ReadFile(file)
		check(err)
		spec := &admin.TaskSpec{}
		check(proto.Unmarshal(raw, spec))
		tmpl := spec.GetTemplate()
		// Registration (pyflyte register / flytectl) fills in what `pyflyte package` leaves empty.
		if id := tmpl.GetId(); id.GetProject() == "" {
			id.Project, id.Domain, id.Version = project, domain, "v1"
		}
		name := tmpl.GetId().GetName()
		pod, err := podFor(ctx, manager, recorder, tmpl, fmt.Sprintf("n%d", i))
		if err != nil {
			fmt.Fprintf(os.Stderr, "flytepods: %s: %v\n", name, err)
			os.Exit(1)
		}
		// The JSON the Kubernetes client would send; the TypeMeta is Flyte's own (kind "pod").
		text, err := json.MarshalIndent(pod, "", "  ")
		check(err)
		short := name[strings.LastIndex(name, ".")+1:]
		check(os.WriteFile(filepath.Join(*out, short+".json"), append(text, '\n'), 0o644))
		fmt.Fprintf(os.Stderr, "flytepods: %s -> %s.json\n", name, short)
	}
}

func check(err error) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "flytepods: %v\n", err)
		os.Exit(1)
	}
}

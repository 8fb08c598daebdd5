"""cluster/: every manifest parses, matches the KubeRay ray.io/v1 CRD and Ray's launcher schema,
and names commands, configs and files that exist in this repository."""

from __future__ import annotations

import copy
import glob
import shlex
from pathlib import Path
from typing import Any

import pytest
import ray
import yaml
from ray.autoscaler._private.util import prepare_config, validate_config
from ray.runtime_env import RuntimeEnv

from tgram.cli import build_parser
from tgram.config import load_config
from tgram.pipeline.batch import BatchConfig
from tgram.submit import JOB_MODULES, WORKING_DIR_EXCLUDES
from tgram.train import load_train_config

ROOT = Path(__file__).resolve().parents[1]

CLUSTER = ROOT / "cluster"
YAML_FILES = sorted(CLUSTER.rglob("*.yaml"))

# Field names of the ray.io/v1 CRDs (KubeRay v1.7.0, ray-operator/config/crd/bases/ray.io_rayjobs.yaml
# and ray.io_rayclusters.yaml). An unknown key is silently dropped by the API server's pruning,
# so a typo would otherwise pass `kubectl apply` and change nothing.
RAYJOB_SPEC_KEYS = {
    "activeDeadlineSeconds", "backoffLimit", "clusterSelector", "deletionStrategy", "entrypoint",
    "entrypointNumCpus", "entrypointNumGpus", "entrypointResources", "jobId", "managedBy",
    "metadata", "preRunningDeadlineSeconds", "rayClusterSpec", "runtimeEnvYAML",
    "shutdownAfterJobFinishes", "submissionMode", "submitterConfig", "submitterPodTemplate",
    "suspend", "ttlSecondsAfterFinished",
}  # fmt: skip
RAYCLUSTER_SPEC_KEYS = {
    "authOptions", "autoscalerOptions", "enableInTreeAutoscaling", "gcsFaultToleranceOptions",
    "headGroupSpec", "headServiceAnnotations", "historyServerOptions", "managedBy", "networkPolicy",
    "rayVersion", "suspend", "tlsOptions", "upgradeStrategy", "workerGroupSpecs",
}  # fmt: skip
HEAD_GROUP_KEYS = {
    "enableIngress", "headService", "ingressOptions", "labels", "rayStartParams", "resources",
    "serviceType", "template",
}  # fmt: skip
WORKER_GROUP_KEYS = {
    "groupName", "idleTimeoutSeconds", "labels", "maxReplicas", "minReplicas", "numOfHosts",
    "priority", "rayStartParams", "replicas", "resources", "scaleStrategy", "suspend", "template",
}  # fmt: skip
AUTOSCALER_OPTION_KEYS = {
    "args", "command", "env", "envFrom", "idleTimeoutSeconds", "image", "imagePullPolicy",
    "resources", "securityContext", "upscalingMode", "version", "volumeMounts",
}  # fmt: skip
RAYCLUSTER_REQUIRED = {"headGroupSpec"}
HEAD_GROUP_REQUIRED = {"template"}
WORKER_GROUP_REQUIRED = {"groupName", "minReplicas", "maxReplicas", "template"}
RAYJOB_REQUIRED = {
    "entrypoint",
    "rayClusterSpec",
    "shutdownAfterJobFinishes",
    "ttlSecondsAfterFinished",
}
"""The CRD requires none of these; this project's RayJobs must create and delete their cluster."""
LAUNCHER_REQUIRED = {
    "cluster_name",
    "provider",
    "available_node_types",
    "head_node_type",
    "max_workers",
}
GPU = "nvidia.com/gpu"


def _documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def _kube_docs(kind: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        (str(path.relative_to(ROOT)), doc)
        for path in YAML_FILES
        for doc in _documents(path)
        if doc.get("kind") == kind
    ]


RAYJOBS = _kube_docs("RayJob")
RAYCLUSTERS = _kube_docs("RayCluster")
LAUNCHER_FILES = [path for path in YAML_FILES if "provider" in _documents(path)[0]]


def _keys_problems(
    where: str, node: dict[str, Any], allowed: set[str], required: set[str]
) -> list[str]:
    problems = [f"{where}: unknown key {key!r}" for key in sorted(set(node) - allowed)]
    return problems + [f"{where}: missing {key!r}" for key in sorted(required - set(node))]


def _containers_problems(where: str, template: dict[str, Any]) -> list[str]:
    containers = template.get("spec", {}).get("containers") or []
    if not containers:
        return [f"{where}.template.spec: no containers"]
    return [
        f"{where}.template.spec.containers[{i}]: resources need requests and limits"
        for i, container in enumerate(containers)
        if not {"requests", "limits"} <= set(container.get("resources", {}))
    ]


def cluster_spec_problems(where: str, spec: dict[str, Any]) -> list[str]:
    """Everything wrong with a RayCluster spec (also a RayJob's rayClusterSpec); [] when valid."""
    problems = _keys_problems(where, spec, RAYCLUSTER_SPEC_KEYS, RAYCLUSTER_REQUIRED)
    problems += _keys_problems(
        f"{where}.autoscalerOptions",
        spec.get("autoscalerOptions", {}),
        AUTOSCALER_OPTION_KEYS,
        set(),
    )
    if spec.get("rayVersion") != ray.__version__:
        problems.append(
            f"{where}.rayVersion: {spec.get('rayVersion')!r}, the client runs Ray {ray.__version__}"
        )
    head = spec.get("headGroupSpec", {})
    groups = [(f"{where}.headGroupSpec", head, HEAD_GROUP_KEYS, HEAD_GROUP_REQUIRED)]
    groups += [
        (f"{where}.workerGroupSpecs[{i}]", group, WORKER_GROUP_KEYS, WORKER_GROUP_REQUIRED)
        for i, group in enumerate(spec.get("workerGroupSpecs", []))
    ]
    gpu_groups = 0
    for group_where, group, allowed, required in groups:
        problems += _keys_problems(group_where, group, allowed, required)
        problems += _containers_problems(group_where, group.get("template", {}))
        params = group.get("rayStartParams", {})
        problems += [
            f"{group_where}.rayStartParams.{key}: must be a string (the CRD types it string), got {value!r}"
            for key, value in params.items()
            if not isinstance(value, str)
        ]
        gpu_limits = {
            str(c.get("resources", {}).get("limits", {}).get(GPU))
            for c in group.get("template", {}).get("spec", {}).get("containers", [])
            if GPU in c.get("resources", {}).get("limits", {})
        }
        if gpu_limits:
            gpu_groups += 1
            if gpu_limits != {params.get("num-gpus")}:
                problems.append(
                    f"{group_where}: rayStartParams num-gpus {params.get('num-gpus')!r} != {GPU} limits {gpu_limits}"
                )
        if (
            "replicas" in group
            and not group["minReplicas"] <= group["replicas"] <= group["maxReplicas"]
        ):
            problems.append(f"{group_where}: expected minReplicas <= replicas <= maxReplicas")
    if gpu_groups == 0:
        problems.append(f"{where}.workerGroupSpecs: no group requests {GPU}")
    return problems


def rayjob_problems(where: str, rayjob: dict[str, Any]) -> list[str]:
    spec = rayjob.get("spec", {})
    problems = _keys_problems(f"{where}.spec", spec, RAYJOB_SPEC_KEYS, RAYJOB_REQUIRED)
    if spec.get("shutdownAfterJobFinishes") is not True:
        problems.append(f"{where}.spec.shutdownAfterJobFinishes: expected true")
    return problems + cluster_spec_problems(
        f"{where}.spec.rayClusterSpec", spec.get("rayClusterSpec", {})
    )


def test_cluster_folder_has_the_manifests() -> None:
    names = {str(path.relative_to(CLUSTER)) for path in YAML_FILES}
    assert {
        "kuberay/rayjob-train.yaml",
        "kuberay/rayjob-batch.yaml",
        "kuberay/raycluster.yaml",
        "aws/cluster.yaml",
        "runtime_env.yaml",
    } <= names
    assert len(RAYJOBS) == 2 and len(RAYCLUSTERS) == 1 and len(LAUNCHER_FILES) == 1


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: str(p.relative_to(CLUSTER)))
def test_every_yaml_parses_to_mappings(path: Path) -> None:
    documents = _documents(path)
    assert documents and all(isinstance(doc, dict) for doc in documents)


@pytest.mark.parametrize(("where", "rayjob"), RAYJOBS, ids=[w for w, _ in RAYJOBS])
def test_rayjob_matches_the_crd(where: str, rayjob: dict[str, Any]) -> None:
    assert rayjob["apiVersion"] == "ray.io/v1"
    assert rayjob_problems(where, rayjob) == []
    assert (
        isinstance(rayjob["spec"]["ttlSecondsAfterFinished"], int)
        and rayjob["spec"]["ttlSecondsAfterFinished"] >= 0
    )
    RuntimeEnv(**yaml.safe_load(rayjob["spec"]["runtimeEnvYAML"]))


@pytest.mark.parametrize(("where", "raycluster"), RAYCLUSTERS, ids=[w for w, _ in RAYCLUSTERS])
def test_raycluster_matches_the_crd(where: str, raycluster: dict[str, Any]) -> None:
    assert raycluster["apiVersion"] == "ray.io/v1"
    assert cluster_spec_problems(f"{where}.spec", raycluster["spec"]) == []
    assert raycluster["spec"]["enableInTreeAutoscaling"] is True
    assert any(g["maxReplicas"] > g["minReplicas"] for g in raycluster["spec"]["workerGroupSpecs"])


def _valid_job() -> dict[str, Any]:
    return copy.deepcopy(dict(RAYJOBS)["cluster/kuberay/rayjob-batch.yaml"])


def _typo_in_spec(job: dict[str, Any]) -> None:
    job["spec"]["ttlSecondAfterFinished"] = job["spec"].pop("ttlSecondsAfterFinished")


def _typo_in_worker_group(job: dict[str, Any]) -> None:
    job["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]["maxReplica"] = 4


def _integer_start_param(job: dict[str, Any]) -> None:
    job["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]["rayStartParams"]["num-gpus"] = 1


def _no_gpu_limit(job: dict[str, Any]) -> None:
    for container in job["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]["template"]["spec"][
        "containers"
    ]:
        del container["resources"]["limits"][GPU]


def _head_without_resources(job: dict[str, Any]) -> None:
    del job["spec"]["rayClusterSpec"]["headGroupSpec"]["template"]["spec"]["containers"][0][
        "resources"
    ]


@pytest.mark.parametrize(
    ("break_it", "expected"),
    [
        (_typo_in_spec, "unknown key 'ttlSecondAfterFinished'"),
        (_typo_in_worker_group, "workerGroupSpecs[0]: unknown key 'maxReplica'"),
        (_integer_start_param, "rayStartParams.num-gpus: must be a string"),
        (_no_gpu_limit, "no group requests nvidia.com/gpu"),
        (
            _head_without_resources,
            "headGroupSpec.template.spec.containers[0]: resources need requests and limits",
        ),
    ],
)
def test_validator_catches_broken_rayjobs(break_it: Any, expected: str) -> None:
    job = _valid_job()
    break_it(job)
    problems = rayjob_problems("job", job)
    assert any(expected in problem for problem in problems), problems


def _entrypoint_args(rayjob: dict[str, Any]) -> tuple[str, list[str]]:
    argv = shlex.split(rayjob["spec"]["entrypoint"])
    assert argv[:2] == ["python", "-m"]
    return argv[2], argv[3:]


def test_train_rayjob_runs_jobs_train_with_a_valid_config() -> None:
    module, args = _entrypoint_args(dict(RAYJOBS)["cluster/kuberay/rayjob-train.yaml"])
    assert module == JOB_MODULES["train"]
    parsed = build_parser().parse_args(["train", "--ray", *args])
    cfg = load_train_config(ROOT / parsed.config)
    assert parsed.gpu and cfg.storage_path.startswith("s3://") and cfg.data.path.startswith("s3://")
    workers = dict(RAYJOBS)["cluster/kuberay/rayjob-train.yaml"]["spec"]["rayClusterSpec"][
        "workerGroupSpecs"
    ][0]
    assert parsed.workers == workers["replicas"]


def test_batch_rayjob_runs_jobs_track_with_a_valid_config() -> None:
    rayjob = dict(RAYJOBS)["cluster/kuberay/rayjob-batch.yaml"]
    module, args = _entrypoint_args(rayjob)
    assert module == JOB_MODULES["batch"]
    parsed = build_parser().parse_args(["batch", *args])
    cfg = load_config(ROOT / parsed.config, BatchConfig)
    assert parsed.input.startswith("s3://") and parsed.output.startswith("s3://")
    gpu_group = rayjob["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]
    assert cfg.gpus_per_actor > 0
    assert cfg.actors * cfg.gpus_per_actor == gpu_group["replicas"] * float(
        gpu_group["rayStartParams"]["num-gpus"]
    )


def _secret_refs(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        own = [node["secretKeyRef"]] if "secretKeyRef" in node else []
        return own + [ref for value in node.values() for ref in _secret_refs(value)]
    if isinstance(node, list):
        return [ref for item in node for ref in _secret_refs(item)]
    return []


def test_referenced_secrets_are_documented() -> None:
    names = {
        ref["name"] for path in YAML_FILES for doc in _documents(path) for ref in _secret_refs(doc)
    }
    assert names, "the KubeRay manifests take S3 credentials from a Secret"
    defined = {
        doc["metadata"]["name"]
        for doc in (d for p in YAML_FILES for d in _documents(p))
        if doc.get("kind") == "Secret"
    }
    readme = (CLUSTER / "README.md").read_text()
    for name in names - defined:
        assert f"kubectl create secret generic {name}" in readme


@pytest.mark.parametrize("path", LAUNCHER_FILES, ids=lambda p: str(p.relative_to(CLUSTER)))
def test_cluster_launcher_config_passes_rays_schema(path: Path) -> None:
    config = yaml.safe_load(path.read_text())
    assert set(config) >= LAUNCHER_REQUIRED
    assert config["head_node_type"] in config["available_node_types"]
    for name, node_type in config["available_node_types"].items():
        assert {"resources", "node_config"} <= set(node_type), name
    assert any(
        node_type["resources"].get("GPU", 0) >= 1
        for node_type in config["available_node_types"].values()
    )
    validate_config(prepare_config(config))  # what `ray up` runs first


def test_launcher_installs_the_checkout_it_mounts() -> None:
    (config,) = _documents(CLUSTER / "aws" / "cluster.yaml")
    (remote,) = [target for target, source in config["file_mounts"].items() if source == "."]
    assert any(f"-e {remote}" in command for command in config["setup_commands"])


def _copy_sources(dockerfile: Path) -> list[str]:
    sources = []
    for line in dockerfile.read_text().splitlines():
        words = line.split()
        if words and words[0].upper() in {"COPY", "ADD"}:
            operands = [w for w in words[1:] if not w.startswith("--")]
            sources += operands[:-1]
    return sources


def test_dockerfile_copies_files_that_exist() -> None:
    sources = _copy_sources(CLUSTER / "Dockerfile")
    assert "weights" in sources
    missing = [src for src in sources if not glob.glob(str(ROOT / src))]
    assert missing == []


def test_runtime_env_example_matches_tgram_submit() -> None:
    runtime_env = yaml.safe_load((CLUSTER / "runtime_env.yaml").read_text())
    assert tuple(runtime_env["excludes"]) == WORKING_DIR_EXCLUDES
    assert runtime_env["working_dir"] == "."
    RuntimeEnv(**runtime_env)

//! Blocking wrappers of the CRI calls the tier and the benchmark make, with errors that name
//! the call and the object.

use k8s_cri::v1::*;

use crate::harness::Containerd;

/// A pod: its id and the config it was started with (CreateContainer wants it again).
pub struct Pod {
    pub id: String,
    pub config: PodSandboxConfig,
}

/// A container to create in a pod.
pub struct Spec<'a> {
    pub name: &'a str,
    pub image: &'a str,
    pub command: &'a [&'a str],
    pub memory_limit: i64,
    pub stdin: bool,
}

impl<'a> Spec<'a> {
    pub fn new(name: &'a str, image: &'a str, command: &'a [&'a str]) -> Spec<'a> {
        Spec {
            name,
            image,
            command,
            memory_limit: 0,
            stdin: false,
        }
    }
}

impl Containerd {
    /// RunPodSandbox with `handler`; `host_network` shares the host's network namespace.
    pub fn run_pod(&self, name: &str, handler: &str, host_network: bool) -> Pod {
        let logs = self.dir.join("logs").join(name);
        std::fs::create_dir_all(&logs).unwrap();
        let network = match host_network {
            true => NamespaceMode::Node,
            false => NamespaceMode::Pod,
        };
        let config = PodSandboxConfig {
            metadata: Some(PodSandboxMetadata {
                name: name.into(),
                uid: format!("uid-{name}"),
                namespace: "hull-cri".into(),
                attempt: 0,
            }),
            // As kubelet: a hostNetwork pod has the host's UTS namespace, so no name of its own.
            hostname: if host_network {
                String::new()
            } else {
                name.into()
            },
            log_directory: logs.display().to_string(),
            linux: Some(LinuxPodSandboxConfig {
                cgroup_parent: self.pod_cgroup_parent(name),
                security_context: Some(LinuxSandboxSecurityContext {
                    namespace_options: Some(NamespaceOption {
                        network: network as i32,
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let req = RunPodSandboxRequest {
            config: Some(config.clone()),
            runtime_handler: handler.into(),
        };
        let mut r = self.runtime.clone();
        let id = self
            .block_on(r.run_pod_sandbox(req))
            .unwrap_or_else(|e| panic!("RunPodSandbox {name} ({handler}): {e}"))
            .into_inner()
            .pod_sandbox_id;
        if let Some(ns) = self.pod_netns(&id) {
            self.netns.borrow_mut().push(ns);
        }
        Pod { id, config }
    }

    /// PodSandboxStatus (verbose).
    pub fn pod_status(&self, id: &str) -> (PodSandboxStatus, serde_json::Value) {
        let mut r = self.runtime.clone();
        let req = PodSandboxStatusRequest {
            pod_sandbox_id: id.into(),
            verbose: true,
        };
        let resp = self
            .block_on(r.pod_sandbox_status(req))
            .unwrap_or_else(|e| panic!("PodSandboxStatus {id}: {e}"))
            .into_inner();
        let info = resp.info.get("info").map(String::as_str).unwrap_or("null");
        let info = serde_json::from_str(info).expect("verbose pod info is JSON");
        (
            resp.status.expect("PodSandboxStatus without a status"),
            info,
        )
    }

    /// The path of the pod's network namespace (none for a hostNetwork pod).
    fn pod_netns(&self, id: &str) -> Option<String> {
        let info = self.pod_status(id).1;
        let namespaces = info["runtimeSpec"]["linux"]["namespaces"]
            .as_array()?
            .clone();
        namespaces
            .iter()
            .find(|n| n["type"] == "network")
            .and_then(|n| n["path"].as_str())
            .filter(|p| !p.is_empty())
            .map(String::from)
    }

    /// The pod's cgroup parent: a directory below the tier's own parent (cgroupfs), or a
    /// child slice of the tier's slice (systemd: `hullcri123-NAME.slice`).
    fn pod_cgroup_parent(&self, name: &str) -> String {
        let name: String = name.chars().filter(char::is_ascii_alphanumeric).collect();
        match self.driver {
            crate::harness::Driver::Cgroupfs => format!("{}/{name}", self.cgroup_parent),
            crate::harness::Driver::Systemd => {
                let base = self.cgroup_parent.trim_end_matches(".slice");
                format!("{base}-{name}.slice")
            }
        }
    }

    /// CreateContainer then StartContainer; returns the container id.
    pub fn create_start(&self, pod: &Pod, spec: &Spec) -> String {
        let id = self.create(pod, spec);
        let mut r = self.runtime.clone();
        let req = StartContainerRequest {
            container_id: id.clone(),
        };
        self.block_on(r.start_container(req))
            .unwrap_or_else(|e| panic!("StartContainer {}: {e}", spec.name));
        id
    }

    pub fn create(&self, pod: &Pod, spec: &Spec) -> String {
        let config = ContainerConfig {
            metadata: Some(ContainerMetadata {
                name: spec.name.into(),
                attempt: 0,
            }),
            image: Some(ImageSpec {
                image: spec.image.into(),
                ..Default::default()
            }),
            command: spec.command.iter().map(|s| s.to_string()).collect(),
            log_path: format!("{}.log", spec.name),
            stdin: spec.stdin,
            linux: Some(LinuxContainerConfig {
                resources: Some(LinuxContainerResources {
                    memory_limit_in_bytes: spec.memory_limit,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let req = CreateContainerRequest {
            pod_sandbox_id: pod.id.clone(),
            config: Some(config),
            sandbox_config: Some(pod.config.clone()),
        };
        let mut r = self.runtime.clone();
        self.block_on(r.create_container(req))
            .unwrap_or_else(|e| panic!("CreateContainer {}: {e}", spec.name))
            .into_inner()
            .container_id
    }

    /// ContainerStatus (verbose: `info` holds the shim's view, with the pid).
    pub fn status(&self, id: &str) -> (ContainerStatus, std::collections::HashMap<String, String>) {
        let mut r = self.runtime.clone();
        let req = ContainerStatusRequest {
            container_id: id.into(),
            verbose: true,
        };
        let resp = self
            .block_on(r.container_status(req))
            .unwrap_or_else(|e| panic!("ContainerStatus {id}: {e}"))
            .into_inner();
        (
            resp.status.expect("ContainerStatus without a status"),
            resp.info,
        )
    }

    pub fn state(&self, id: &str) -> ContainerState {
        ContainerState::try_from(self.status(id).0.state)
            .unwrap_or(ContainerState::ContainerUnknown)
    }

    /// The container's init pid, from the verbose status.
    pub fn pid(&self, id: &str) -> i64 {
        let info = self.status(id).1;
        let v: serde_json::Value = serde_json::from_str(info.get("info").expect("verbose info"))
            .expect("verbose info is JSON");
        v["pid"].as_i64().expect("verbose info has a pid")
    }

    /// ExecSync: exit code, stdout, stderr.
    pub fn exec_sync(&self, id: &str, cmd: &[&str]) -> (i32, String, String) {
        let mut r = self.runtime.clone();
        let req = ExecSyncRequest {
            container_id: id.into(),
            cmd: cmd.iter().map(|s| s.to_string()).collect(),
            timeout: 30,
        };
        let resp = self
            .block_on(r.exec_sync(req))
            .unwrap_or_else(|e| panic!("ExecSync {cmd:?} in {id}: {e}"))
            .into_inner();
        (
            resp.exit_code,
            String::from_utf8_lossy(&resp.stdout).into_owned(),
            String::from_utf8_lossy(&resp.stderr).into_owned(),
        )
    }

    pub fn stop(&self, id: &str, timeout: i64) {
        let mut r = self.runtime.clone();
        let req = StopContainerRequest {
            container_id: id.into(),
            timeout,
        };
        self.block_on(r.stop_container(req))
            .unwrap_or_else(|e| panic!("StopContainer {id}: {e}"));
    }

    pub fn remove(&self, id: &str) {
        let mut r = self.runtime.clone();
        let req = RemoveContainerRequest {
            container_id: id.into(),
        };
        self.block_on(r.remove_container(req))
            .unwrap_or_else(|e| panic!("RemoveContainer {id}: {e}"));
    }

    /// StopPodSandbox then RemovePodSandbox.
    pub fn remove_pod(&self, pod: &Pod) {
        let mut r = self.runtime.clone();
        let stop = StopPodSandboxRequest {
            pod_sandbox_id: pod.id.clone(),
        };
        self.block_on(r.stop_pod_sandbox(stop))
            .unwrap_or_else(|e| panic!("StopPodSandbox {}: {e}", pod.id));
        let rm = RemovePodSandboxRequest {
            pod_sandbox_id: pod.id.clone(),
        };
        self.block_on(r.remove_pod_sandbox(rm))
            .unwrap_or_else(|e| panic!("RemovePodSandbox {}: {e}", pod.id));
    }
}

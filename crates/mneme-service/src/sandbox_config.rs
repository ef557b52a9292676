//! `/v1/sandbox-config`: the server's sandbox configurations (one of each type) and their
//! environment variables, and how tool runs apply the local one (`ToolSandboxes` is the
//! runtime's `SandboxConfigs`): its variables join the tool's environment (the agent's own
//! win), runs are made under its `sandbox_dir`, and with `use_venv` tools run with the
//! virtualenv's interpreter, created with its `pip_requirements` when missing. Variable values
//! are sealed under the server secret like provider keys, and never logged.
//!
//! E2B and Modal configurations are stored and listed only: with no local configuration and a
//! remote one, a tool run fails saying this server cannot run tools there.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use mneme_agent::{LazySandbox, LocalSandbox, SandboxConfigs};
use mneme_store::{Page, SandboxEnvVarRecord, Store};
use mneme_types::{
    E2bSandboxConfig, LocalSandboxConfig, SandboxConfig, SandboxConfigCreate, SandboxConfigId,
    SandboxConfigUpdate, SandboxEnvVarId, SandboxEnvironmentVariable,
    SandboxEnvironmentVariableCreate, SandboxEnvironmentVariableUpdate, SandboxSettings,
    SandboxType,
};
use tokio::process::Command;

use crate::archival::ORGANIZATION_ID;
use crate::secrets::SecretBox;
use crate::{Result, Service, ServiceError};

/// How long creating a virtualenv and installing its requirements may take.
const VENV_TIMEOUT: Duration = Duration::from_secs(600);

/// The configurations as tool runs need them; shared by the service and the runtime.
pub(crate) struct ToolSandboxes {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) secrets: SecretBox,
    pub(crate) sandbox: Arc<LazySandbox>,
    /// `sandbox_dir` of a local configuration that names none.
    pub(crate) default_dir: Option<PathBuf>,
    /// One virtualenv is built at a time (a run and `recreate-venv` may both want it).
    pub(crate) venv_lock: tokio::sync::Mutex<()>,
}

impl Service {
    /// `POST /v1/sandbox-config/`: creates the configuration of its type or replaces its
    /// settings.
    pub async fn create_sandbox_config(&self, req: SandboxConfigCreate) -> Result<SandboxConfig> {
        let config = self.tool_sandboxes.complete(req.config)?;
        Ok(self
            .store
            .put_sandbox_config(new_config(config), true)
            .await?)
    }

    /// `POST /v1/sandbox-config/local`.
    pub async fn create_local_sandbox_config(
        &self,
        req: LocalSandboxConfig,
    ) -> Result<SandboxConfig> {
        let config = self.tool_sandboxes.complete(SandboxSettings::Local(req))?;
        Ok(self
            .store
            .put_sandbox_config(new_config(config), true)
            .await?)
    }

    /// `POST /v1/sandbox-config/{e2b,local}/default`: the configuration of `kind`, created
    /// with the defaults when there is none.
    pub async fn default_sandbox_config(&self, kind: SandboxType) -> Result<SandboxConfig> {
        self.tool_sandboxes.default_config(kind).await
    }

    pub async fn list_sandbox_configs(
        &self,
        kind: Option<SandboxType>,
        page: &Page,
    ) -> Result<Vec<SandboxConfig>> {
        Ok(self.store.list_sandbox_configs(kind, page).await?)
    }

    /// `PATCH /v1/sandbox-config/{id}`: new settings of the same type; none changes nothing.
    pub async fn update_sandbox_config(
        &self,
        id: SandboxConfigId,
        req: SandboxConfigUpdate,
    ) -> Result<SandboxConfig> {
        let Some(settings) = req.config else {
            return Ok(self.store.get_sandbox_config(id).await?);
        };
        let settings = self.tool_sandboxes.complete(settings)?;
        let edit = Box::new(move |config: &mut SandboxConfig| {
            if config.kind != settings.kind() {
                return Err(mneme_store::StoreError::Invalid(format!(
                    "Mismatched type for sandbox config update: tried to update sandbox_config \
                     of type {} with config of type {}",
                    config.kind.as_str(),
                    settings.kind().as_str()
                )));
            }
            config.config = settings;
            Ok(())
        });
        Ok(self.store.update_sandbox_config(id, edit).await?)
    }

    pub async fn delete_sandbox_config(&self, id: SandboxConfigId) -> Result<()> {
        Ok(self.store.delete_sandbox_config(id).await?)
    }

    /// `POST /v1/sandbox-config/local/recreate-venv`: deletes the local configuration's
    /// virtualenv and builds it again with its requirements.
    pub async fn recreate_local_venv(&self) -> Result<SandboxConfig> {
        let settings = &self.tool_sandboxes;
        let config = settings.default_config(SandboxType::Local).await?;
        let SandboxSettings::Local(local) = &config.config else {
            return Err(ServiceError::Internal(
                "the local configuration is not local".into(),
            ));
        };
        settings
            .build_venv(local, true)
            .await
            .map_err(ServiceError::Internal)?;
        Ok(config)
    }

    /// `POST /v1/sandbox-config/{id}/environment-variable`: creates the variable, or gives the
    /// one of that key the new value (and description, when one is given).
    pub async fn create_sandbox_env_var(
        &self,
        config: SandboxConfigId,
        req: SandboxEnvironmentVariableCreate,
    ) -> Result<SandboxEnvironmentVariable> {
        check_key(&req.key)?;
        check_value(&req.value)?;
        let now = mneme_types::time::now();
        let record = SandboxEnvVarRecord {
            id: SandboxEnvVarId::new(),
            sandbox_config_id: config,
            key: req.key,
            value_sealed: self.secrets.seal(&req.value),
            description: req.description,
            created_at: now,
            updated_at: now,
        };
        let record = self.store.put_sandbox_env_var(record).await?;
        self.env_var_wire(record)
    }

    pub async fn list_sandbox_env_vars(
        &self,
        config: SandboxConfigId,
        page: &Page,
    ) -> Result<Vec<SandboxEnvironmentVariable>> {
        let records = self.store.list_sandbox_env_vars(config, page).await?;
        records.into_iter().map(|r| self.env_var_wire(r)).collect()
    }

    /// `PATCH /v1/sandbox-config/environment-variable/{id}`.
    pub async fn update_sandbox_env_var(
        &self,
        id: SandboxEnvVarId,
        req: SandboxEnvironmentVariableUpdate,
    ) -> Result<SandboxEnvironmentVariable> {
        if let Some(key) = &req.key {
            check_key(key)?;
        }
        if let Some(value) = &req.value {
            check_value(value)?;
        }
        let sealed = req.value.as_deref().map(|v| self.secrets.seal(v));
        let edit = Box::new(move |var: &mut SandboxEnvVarRecord| {
            if let Some(key) = req.key {
                var.key = key;
            }
            if let Some(sealed) = sealed {
                var.value_sealed = sealed;
            }
            if let Some(description) = req.description {
                var.description = Some(description);
            }
            Ok(())
        });
        let record = self.store.update_sandbox_env_var(id, edit).await?;
        self.env_var_wire(record)
    }

    pub async fn delete_sandbox_env_var(&self, id: SandboxEnvVarId) -> Result<()> {
        Ok(self.store.delete_sandbox_env_var(id).await?)
    }

    fn env_var_wire(&self, r: SandboxEnvVarRecord) -> Result<SandboxEnvironmentVariable> {
        let value = self
            .secrets
            .open(&r.value_sealed)
            .map_err(|e| ServiceError::Internal(format!("sandbox variable '{}': {e}", r.key)))?;
        Ok(SandboxEnvironmentVariable {
            created_by_id: None,
            last_updated_by_id: None,
            created_at: r.created_at,
            updated_at: r.updated_at,
            id: r.id,
            key: r.key,
            value,
            description: r.description,
            organization_id: Some(ORGANIZATION_ID.into()),
            value_enc: None,
            sandbox_config_id: r.sandbox_config_id,
        })
    }
}

/// A new configuration record around `settings`.
fn new_config(settings: SandboxSettings) -> SandboxConfig {
    let now = mneme_types::time::now();
    SandboxConfig {
        created_by_id: None,
        last_updated_by_id: None,
        created_at: now,
        updated_at: now,
        id: SandboxConfigId::new(),
        kind: settings.kind(),
        organization_id: Some(ORGANIZATION_ID.into()),
        config: settings,
    }
}

/// A name the kernel can carry as one variable.
fn check_key(key: &str) -> Result<()> {
    if key.is_empty() || key.contains(['=', '\0']) {
        return Err(ServiceError::Unprocessable(format!(
            "invalid environment variable name {key:?}: it must be non-empty, without '=' or NUL"
        )));
    }
    Ok(())
}

fn check_value(value: &str) -> Result<()> {
    if value.contains('\0') {
        return Err(ServiceError::Unprocessable(
            "an environment variable's value cannot contain NUL".into(),
        ));
    }
    Ok(())
}

impl ToolSandboxes {
    /// `settings` as stored: a local configuration gets the server's directory when it names
    /// none; requirements must name a package.
    fn complete(&self, settings: SandboxSettings) -> Result<SandboxSettings> {
        let SandboxSettings::Local(mut local) = settings else {
            return Ok(settings);
        };
        for req in &local.pip_requirements {
            if req.name.trim().is_empty() || req.name.starts_with('-') {
                return Err(ServiceError::Unprocessable(format!(
                    "invalid pip requirement name {:?}",
                    req.name
                )));
            }
        }
        if local.venv_name.is_empty() || local.venv_name.contains('/') {
            return Err(ServiceError::Unprocessable(format!(
                "invalid venv_name {:?}: a directory name inside sandbox_dir",
                local.venv_name
            )));
        }
        if local.sandbox_dir.is_none() {
            local.sandbox_dir = self.default_dir.as_ref().map(|d| d.display().to_string());
        }
        Ok(SandboxSettings::Local(local))
    }

    async fn default_config(&self, kind: SandboxType) -> Result<SandboxConfig> {
        let settings = match kind {
            SandboxType::Local => SandboxSettings::Local(LocalSandboxConfig::default()),
            SandboxType::E2b => SandboxSettings::E2b(E2bSandboxConfig::default()),
            SandboxType::Modal => SandboxSettings::Modal(mneme_types::ModalSandboxConfig {
                timeout: 60,
                pip_requirements: None,
                npm_requirements: None,
                language: mneme_types::ModalLanguage::Python,
            }),
        };
        let config = new_config(self.complete(settings)?);
        Ok(self.store.put_sandbox_config(config, false).await?)
    }

    /// The stored configuration of `kind`, if any.
    async fn of_kind(
        &self,
        kind: SandboxType,
    ) -> std::result::Result<Option<SandboxConfig>, String> {
        let page = Page {
            limit: 1,
            ..Page::default()
        };
        let found = self.store.list_sandbox_configs(Some(kind), &page).await;
        Ok(found.map_err(|e| e.to_string())?.into_iter().next())
    }

    /// The local configuration's variables, opened.
    async fn variables(
        &self,
        config: SandboxConfigId,
    ) -> std::result::Result<Vec<(String, String)>, String> {
        let page = Page {
            limit: u32::MAX,
            ..Page::default()
        };
        let vars = self.store.list_sandbox_env_vars(config, &page).await;
        let vars = vars.map_err(|e| e.to_string())?;
        vars.into_iter()
            .map(|v| match self.secrets.open(&v.value_sealed) {
                Ok(value) => Ok((v.key, value)),
                Err(e) => Err(format!("sandbox variable '{}': {e}", v.key)),
            })
            .collect()
    }

    /// Deletes (when `force`) and creates the virtualenv of `local`, then installs its
    /// requirements. Answers the virtualenv's interpreter.
    async fn build_venv(
        &self,
        local: &LocalSandboxConfig,
        force: bool,
    ) -> std::result::Result<PathBuf, String> {
        let _one_at_a_time = self.venv_lock.lock().await;
        let dir = sandbox_dir(local, self.default_dir.as_deref())?;
        let venv = dir.join(&local.venv_name);
        let python = venv.join("bin").join("python");
        if !force && python.exists() {
            return Ok(python);
        }
        if venv.exists() {
            tokio::fs::remove_dir_all(&venv)
                .await
                .map_err(|e| format!("cannot delete the virtualenv {}: {e}", venv.display()))?;
        }
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| format!("cannot create the sandbox directory {}: {e}", dir.display()))?;
        let base = self.sandbox.get().await.python().map(Path::to_path_buf);
        let base = base.ok_or("no Python interpreter on this server to create a virtualenv")?;
        let venv_arg = venv.as_os_str().to_owned();
        run(Command::new(&base).args(["-m", "venv"]).arg(venv_arg)).await?;
        let specs: Vec<String> = local.pip_requirements.iter().map(|r| r.spec()).collect();
        if !specs.is_empty() {
            let mut pip = Command::new(&python);
            pip.args([
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--no-input",
            ])
            .args(&specs);
            run(&mut pip).await?;
        }
        tracing::info!(venv = %venv.display(), requirements = specs.len(), "tool virtualenv ready");
        Ok(python)
    }
}

/// Where runs of `local` are made.
fn sandbox_dir(
    local: &LocalSandboxConfig,
    default: Option<&Path>,
) -> std::result::Result<PathBuf, String> {
    match (&local.sandbox_dir, default) {
        (Some(dir), _) => Ok(expand_home(dir)),
        (None, Some(dir)) => Ok(dir.to_path_buf()),
        (None, None) => Err("the local sandbox configuration names no sandbox_dir".into()),
    }
}

/// `~/x` as Letta expands it.
fn expand_home(dir: &str) -> PathBuf {
    match (dir.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(dir),
    }
}

/// Runs a setup command to its end; its output is the error when it fails.
async fn run(cmd: &mut Command) -> std::result::Result<(), String> {
    cmd.stdin(std::process::Stdio::null()).kill_on_drop(true);
    let output = tokio::time::timeout(VENV_TIMEOUT, cmd.output())
        .await
        .map_err(|_| {
            format!(
                "setting up the virtualenv took over {} s",
                VENV_TIMEOUT.as_secs()
            )
        })?
        .map_err(|e| format!("cannot run the virtualenv setup: {e}"))?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
    Err(format!(
        "the virtualenv setup failed ({}): {}",
        output.status,
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    ))
}

#[async_trait]
impl SandboxConfigs for ToolSandboxes {
    async fn local(&self) -> std::result::Result<LocalSandbox, String> {
        let Some(config) = self.of_kind(SandboxType::Local).await? else {
            return self.without_local().await;
        };
        let SandboxSettings::Local(local) = &config.config else {
            return Err("the local sandbox configuration is not local".into());
        };
        let dir = sandbox_dir(local, self.default_dir.as_deref())?;
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| format!("cannot create the sandbox directory {}: {e}", dir.display()))?;
        let python = match local.use_venv {
            true => Some(self.build_venv(local, false).await?),
            false => None,
        };
        Ok(LocalSandbox {
            env: self.variables(config.id).await?,
            run_dir: Some(dir),
            python,
            min_memory_bytes: 0,
        })
    }
}

impl ToolSandboxes {
    /// No local configuration: the server's defaults, unless only a remote sandbox is
    /// configured, which this server cannot run tools on.
    async fn without_local(&self) -> std::result::Result<LocalSandbox, String> {
        for (kind, name) in [(SandboxType::E2b, "E2B"), (SandboxType::Modal, "Modal")] {
            if self.of_kind(kind).await?.is_some() {
                return Err(format!(
                    "{name} is not available on this server: tools run in its local sandbox \
                     (create one with POST /v1/sandbox-config/local)"
                ));
            }
        }
        Ok(LocalSandbox::default())
    }
}

//! The Python tool sandbox, started on first use: probing the interpreter and bubblewrap takes
//! about 100 ms, which a server that may never run a custom tool should not pay at start-up.

use mneme_tools::{Sandbox, SandboxOptions};
use tokio::sync::OnceCell;

pub struct LazySandbox {
    options: SandboxOptions,
    cell: OnceCell<Sandbox>,
}

impl LazySandbox {
    pub fn new(options: SandboxOptions) -> LazySandbox {
        LazySandbox {
            options,
            cell: OnceCell::new(),
        }
    }

    /// The sandbox, probing the host the first time.
    pub async fn get(&self) -> &Sandbox {
        self.cell
            .get_or_init(|| async {
                let sandbox = Sandbox::new(self.options.clone()).await;
                for line in sandbox.isolation() {
                    tracing::info!(isolation = %line, "tool sandbox ready");
                }
                sandbox
            })
            .await
    }
}

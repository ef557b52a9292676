//! Reading a thread's context: an agent's default conversation or one of its conversations.

use mneme_store::{AgentContext, AgentFrame, Store, StoreError};
use mneme_types::Thread;

/// The thread's frame: the agent's own, or its conversation's (which must be of that agent).
pub async fn thread_frame(store: &dyn Store, thread: Thread) -> Result<AgentFrame, StoreError> {
    let Some(conversation) = thread.conversation else {
        return store.agent_frame(thread.agent).await;
    };
    let frame = store.conversation_frame(conversation).await?;
    if frame.agent.id != thread.agent {
        return Err(StoreError::not_found("Conversation", conversation));
    }
    Ok(frame)
}

/// The thread's whole context, its in-context messages read from the store.
pub async fn thread_context(store: &dyn Store, thread: Thread) -> Result<AgentContext, StoreError> {
    let frame = thread_frame(store, thread).await?;
    let messages = store.messages_by_ids(&frame.agent.message_ids).await?;
    Ok(frame.with_messages(messages))
}

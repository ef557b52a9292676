//! Block use cases, and the rules every block value obeys (its character limit).

use mneme_store::{BlockFilter, Page, StoreError};
use mneme_types::{AgentState, Block, BlockId, BlockUpdate, CreateBlock, DEFAULT_BLOCK_LIMIT};

use crate::{Include, Result, Service, ServiceError};

impl Service {
    pub async fn create_block(&self, req: CreateBlock) -> Result<Block> {
        let block = new_block(req)?;
        Ok(self.store.create_block(block).await?)
    }

    pub async fn get_block(&self, id: BlockId) -> Result<Block> {
        Ok(self.store.get_block(id).await?)
    }

    pub async fn list_blocks(&self, filter: &BlockFilter, page: &Page) -> Result<Vec<Block>> {
        Ok(self.store.list_blocks(filter, page).await?)
    }

    pub async fn count_blocks(&self, filter: &BlockFilter) -> Result<u64> {
        Ok(self.store.count_blocks(filter).await?)
    }

    /// Updates a block and recompiles the system message of every agent that shares it.
    pub async fn update_block(&self, id: BlockId, update: BlockUpdate) -> Result<Block> {
        let edit = Box::new(move |b: &mut Block| apply_update(b, update));
        let block = self.store.update_block(id, edit).await?;
        self.recompile_block_agents(id).await?;
        Ok(block)
    }

    /// Deletes a block, detaching it from every agent, whose system messages are recompiled.
    pub async fn delete_block(&self, id: BlockId) -> Result<()> {
        let agents = self.store.agent_ids_of_block(id).await?;
        self.store.delete_block(id).await?;
        for agent in agents {
            match self.recompile(agent).await {
                // The agent may have been deleted meanwhile; nothing left to recompile.
                Err(ServiceError::Store(StoreError::NotFound { .. })) => {}
                other => {
                    other?;
                }
            }
        }
        Ok(())
    }

    pub async fn agents_of_block(
        &self,
        id: BlockId,
        page: &Page,
        include: Include,
    ) -> Result<Vec<AgentState>> {
        let agents = self.store.agents_of_block(id, page).await?;
        self.states(agents, include).await
    }
}

/// A new block from `CreateBlock`, checked against its limit.
pub(crate) fn new_block(req: CreateBlock) -> Result<Block> {
    let limit = req.limit.unwrap_or(DEFAULT_BLOCK_LIMIT);
    check_label(&req.label).map_err(ServiceError::Unprocessable)?;
    check_limit(&req.value, limit).map_err(ServiceError::Unprocessable)?;
    Ok(Block {
        id: BlockId::new(),
        label: Some(req.label),
        value: req.value,
        limit,
        description: req.description,
        read_only: req.read_only,
        metadata: Some(req.metadata.unwrap_or_default()),
        tags: Some(req.tags.unwrap_or_default()),
        hidden: req.hidden,
        is_template: req.is_template,
        template_name: req.template_name,
        template_id: req.template_id,
        base_template_id: req.base_template_id,
        deployment_id: req.deployment_id,
        entity_id: req.entity_id,
        project_id: req.project_id,
        preserve_on_migration: Some(req.preserve_on_migration.unwrap_or(false)),
        created_by_id: None,
        last_updated_by_id: None,
    })
}

/// Applies the present fields of `update`; the result must still fit its limit.
pub(crate) fn apply_update(b: &mut Block, u: BlockUpdate) -> Result<(), StoreError> {
    if let Some(label) = u.label {
        check_label(&label).map_err(StoreError::Invalid)?;
        b.label = Some(label);
    }
    macro_rules! set {
        ($($field:ident),*) => { $( if let Some(v) = u.$field { b.$field = v; } )* };
    }
    macro_rules! set_opt {
        ($($field:ident),*) => { $( if u.$field.is_some() { b.$field = u.$field; } )* };
    }
    set!(value, limit, read_only, is_template);
    set_opt!(
        description,
        metadata,
        tags,
        hidden,
        template_name,
        template_id,
        base_template_id,
        deployment_id,
        entity_id,
        project_id,
        preserve_on_migration
    );
    check_limit(&b.value, b.limit).map_err(StoreError::Invalid)
}

/// Letta's historic wording; limits count characters, not bytes.
fn check_limit(value: &str, limit: usize) -> std::result::Result<(), String> {
    let len = value.chars().count();
    if len > limit {
        return Err(format!(
            "Edit failed: Exceeds {limit} character limit (requested {len})"
        ));
    }
    Ok(())
}

fn check_label(label: &str) -> std::result::Result<(), String> {
    if label.trim().is_empty() {
        return Err("Block label must not be empty".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create(value: &str, limit: Option<usize>) -> CreateBlock {
        CreateBlock {
            label: "human".into(),
            value: value.into(),
            limit,
            ..CreateBlock::default()
        }
    }

    #[test]
    fn limits_count_characters() {
        assert!(new_block(create("ééééé", Some(5))).is_ok());
        let err = new_block(create("ééééé!", Some(5))).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Edit failed: Exceeds 5 character limit (requested 6)"
        );
        assert_eq!(
            new_block(create("x", None)).unwrap().limit,
            DEFAULT_BLOCK_LIMIT
        );
    }

    #[test]
    fn updates_apply_present_fields_and_recheck_the_limit() {
        let mut b = new_block(create("hello", Some(10))).unwrap();
        let before = b.clone();
        let shrink = BlockUpdate {
            limit: Some(3),
            ..BlockUpdate::default()
        };
        assert!(matches!(
            apply_update(&mut b.clone(), shrink),
            Err(StoreError::Invalid(_))
        ));
        let u = BlockUpdate {
            value: Some("hi".into()),
            description: Some("d".into()),
            ..BlockUpdate::default()
        };
        apply_update(&mut b, u).unwrap();
        assert_eq!(b.value, "hi");
        assert_eq!(b.description.as_deref(), Some("d"));
        assert_eq!(b.limit, before.limit);
        assert_eq!(b.read_only, before.read_only);
    }
}

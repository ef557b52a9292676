//! Identity use cases: create, upsert by key, read, list, update, properties, delete, and the
//! links between identities and agents or blocks.

use mneme_store::{
    IdentityEdit, IdentityFilter, IdentityLinks, IdentityRecord, Links, NewIdentity, Page,
};
use mneme_types::{
    AgentId, AgentState, Block, BlockId, Identity, IdentityCreate, IdentityId, IdentityProperty,
    IdentityUpdate, IdentityUpsert, time,
};

use crate::archival::ORGANIZATION_ID;
use crate::{Include, Result, Service};

impl Service {
    /// Creates the identity with its agent and block links at once; a key its project has
    /// already is a 409, an unknown agent or block a 404.
    pub async fn create_identity(&self, req: IdentityCreate) -> Result<Identity> {
        Ok(wire(self.store.create_identity(new_identity(req)).await?))
    }

    /// `PUT /v1/identities/`: the identity with the request's key in its project takes the
    /// request's name and type and, when given, its properties, agents and blocks in place of
    /// its own; when there is none, it is created.
    pub async fn upsert_identity(&self, req: IdentityUpsert) -> Result<Identity> {
        let links = IdentityLinks {
            agents: req.agent_ids.clone().map_or(Links::Keep, Links::Replace),
            blocks: req.block_ids.clone().map_or(Links::Keep, Links::Replace),
        };
        let (name, kind, properties) =
            (req.name.clone(), req.identity_type, req.properties.clone());
        let edit: IdentityEdit = Box::new(move |r| {
            r.name = name;
            r.identity_type = kind;
            if let Some(properties) = properties {
                r.properties = properties;
            }
            Ok(())
        });
        let new = new_identity(req);
        Ok(wire(self.store.upsert_identity(new, edit, links).await?))
    }

    pub async fn get_identity(&self, id: IdentityId) -> Result<Identity> {
        Ok(wire(self.store.get_identity(id).await?))
    }

    pub async fn list_identities(
        &self,
        filter: &IdentityFilter,
        page: &Page,
    ) -> Result<Vec<Identity>> {
        let records = self.store.list_identities(filter, page).await?;
        Ok(records.into_iter().map(wire).collect())
    }

    pub async fn count_identities(&self) -> Result<u64> {
        Ok(self.store.count_identities().await?)
    }

    /// A PATCH, as Letta applies it: given fields change; given properties are merged by key
    /// (a stored key takes the new value in its place, new keys follow); given agent and block
    /// ids are linked in addition to those linked already.
    pub async fn update_identity(&self, id: IdentityId, req: IdentityUpdate) -> Result<Identity> {
        let links = IdentityLinks {
            agents: req.agent_ids.clone().map_or(Links::Keep, Links::Add),
            blocks: req.block_ids.clone().map_or(Links::Keep, Links::Add),
        };
        let edit: IdentityEdit = Box::new(move |r| {
            apply_update(r, req);
            Ok(())
        });
        Ok(wire(self.store.update_identity(id, edit, links).await?))
    }

    /// `PUT /v1/identities/{id}/properties`: the list replaces the identity's properties.
    pub async fn set_identity_properties(
        &self,
        id: IdentityId,
        properties: Vec<IdentityProperty>,
    ) -> Result<Identity> {
        let edit: IdentityEdit = Box::new(move |r| {
            r.properties = properties;
            Ok(())
        });
        let links = IdentityLinks::default();
        Ok(wire(self.store.update_identity(id, edit, links).await?))
    }

    /// Deletes the identity and its links; its agents and blocks stay.
    pub async fn delete_identity(&self, id: IdentityId) -> Result<()> {
        Ok(self.store.delete_identity(id).await?)
    }

    pub async fn agents_of_identity(
        &self,
        id: IdentityId,
        page: &Page,
        include: Include,
    ) -> Result<Vec<AgentState>> {
        let agents = self.store.agents_of_identity(id, page).await?;
        self.states(agents, include).await
    }

    pub async fn blocks_of_identity(&self, id: IdentityId, page: &Page) -> Result<Vec<Block>> {
        Ok(self.store.blocks_of_identity(id, page).await?)
    }

    /// Links the agent to the identity (again: no change). Unknown ones are 404s.
    pub async fn attach_identity_to_agent(&self, agent: AgentId, id: IdentityId) -> Result<()> {
        self.link(id, Links::Add(vec![agent]), Links::Keep).await
    }

    /// Unlinks the agent from the identity (not linked: no change).
    pub async fn detach_identity_from_agent(&self, agent: AgentId, id: IdentityId) -> Result<()> {
        self.link(id, Links::Remove(vec![agent]), Links::Keep).await
    }

    /// Links the block to the identity; answers the block.
    pub async fn attach_identity_to_block(&self, block: BlockId, id: IdentityId) -> Result<Block> {
        self.link(id, Links::Keep, Links::Add(vec![block])).await?;
        self.get_block(block).await
    }

    /// Unlinks the block from the identity; answers the block.
    pub async fn detach_identity_from_block(
        &self,
        block: BlockId,
        id: IdentityId,
    ) -> Result<Block> {
        self.link(id, Links::Keep, Links::Remove(vec![block]))
            .await?;
        self.get_block(block).await
    }

    /// Fills `identities` of agent states from their `identity_ids` (set only when the read
    /// included them), with one store read for all of them.
    pub(crate) async fn fill_identities(&self, states: &mut [AgentState]) -> Result<()> {
        let mut ids: Vec<IdentityId> = Vec::new();
        for id in states.iter().flat_map(|s| &s.identity_ids) {
            if !ids.contains(id) {
                ids.push(*id);
            }
        }
        if ids.is_empty() {
            return Ok(());
        }
        let identities: Vec<Identity> = self
            .store
            .get_identities(&ids)
            .await?
            .into_iter()
            .map(wire)
            .collect();
        for state in states {
            state.identities = state
                .identity_ids
                .iter()
                .filter_map(|id| identities.iter().find(|i| i.id == *id).cloned())
                .collect();
        }
        Ok(())
    }

    async fn link(
        &self,
        id: IdentityId,
        agents: Links<AgentId>,
        blocks: Links<BlockId>,
    ) -> Result<()> {
        let edit: IdentityEdit = Box::new(|_| Ok(()));
        let links = IdentityLinks { agents, blocks };
        self.store.update_identity(id, edit, links).await?;
        Ok(())
    }
}

pub(crate) fn new_identity(req: IdentityCreate) -> NewIdentity {
    let now = time::now();
    NewIdentity {
        identity: IdentityRecord {
            id: IdentityId::new(),
            identifier_key: req.identifier_key,
            name: req.name,
            identity_type: req.identity_type,
            project_id: req.project_id,
            properties: req.properties.unwrap_or_default(),
            created_at: now,
            updated_at: now,
        },
        agents: req.agent_ids.unwrap_or_default(),
        blocks: req.block_ids.unwrap_or_default(),
    }
}

fn apply_update(r: &mut IdentityRecord, req: IdentityUpdate) {
    if let Some(key) = req.identifier_key {
        r.identifier_key = key;
    }
    if let Some(name) = req.name {
        r.name = name;
    }
    if let Some(kind) = req.identity_type {
        r.identity_type = kind;
    }
    for property in req.properties.into_iter().flatten() {
        match r.properties.iter_mut().find(|p| p.key == property.key) {
            Some(stored) => *stored = property,
            None => r.properties.push(property),
        }
    }
}

/// `Identity` as the API returns it: the links are listed by their own routes.
pub(crate) fn wire(r: IdentityRecord) -> Identity {
    Identity {
        id: r.id,
        identifier_key: r.identifier_key,
        name: r.name,
        identity_type: r.identity_type,
        project_id: r.project_id,
        agent_ids: Vec::new(),
        block_ids: Vec::new(),
        organization_id: Some(ORGANIZATION_ID.to_owned()),
        properties: r.properties,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mneme_types::{IdentityType, PropertyValue};

    fn property(key: &str, value: &str) -> IdentityProperty {
        IdentityProperty {
            key: key.into(),
            value: PropertyValue::String(value.into()),
        }
    }

    #[test]
    fn a_patch_merges_properties_by_key_and_keeps_their_order() {
        let req = IdentityCreate {
            identifier_key: "ada".into(),
            name: "Ada".into(),
            identity_type: IdentityType::User,
            project_id: None,
            agent_ids: None,
            block_ids: None,
            properties: Some(vec![property("a", "1"), property("b", "2")]),
        };
        let mut record = new_identity(req).identity;
        let update = IdentityUpdate {
            name: Some("Ada L.".into()),
            properties: Some(vec![property("c", "3"), property("a", "one")]),
            ..IdentityUpdate::default()
        };
        apply_update(&mut record, update);
        assert_eq!(record.name, "Ada L.");
        assert_eq!(record.identifier_key, "ada");
        assert_eq!(
            record.properties,
            [property("a", "one"), property("b", "2"), property("c", "3")]
        );
    }
}

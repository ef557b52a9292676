//! A folder's files over the API: listing, reading (with the extracted text when asked) and
//! deleting.

use mneme_store::Page;
use mneme_types::{FileId, FileMetadata, FolderId};

use crate::archival::ORGANIZATION_ID;
use crate::{Result, Service};

impl Service {
    pub async fn list_files(
        &self,
        folder: FolderId,
        page: &Page,
        include_content: bool,
    ) -> Result<Vec<FileMetadata>> {
        let files = self.store.list_files(folder, page, include_content).await?;
        Ok(files.into_iter().map(shown).collect())
    }

    pub async fn get_file(
        &self,
        folder: FolderId,
        id: FileId,
        include_content: bool,
    ) -> Result<FileMetadata> {
        self.store.get_folder(folder).await?;
        Ok(shown(
            self.store.get_file(folder, id, include_content).await?,
        ))
    }

    /// Deletes the file and its passages.
    pub async fn delete_file(&self, folder: FolderId, id: FileId) -> Result<()> {
        self.store.get_folder(folder).await?;
        self.store.delete_file(folder, id).await?;
        self.searcher.changed();
        Ok(())
    }
}

/// `FileMetadata` as the API answers it: in the one built-in organization.
pub(crate) fn shown(file: FileMetadata) -> FileMetadata {
    FileMetadata {
        organization_id: Some(ORGANIZATION_ID.to_owned()),
        ..file
    }
}

//! Blobs (files, mail bodies, recordings, snapshots) through `object_store`.
//!
//! Everything streams: uploads go through multipart writes with a bounded number of parts in
//! flight, downloads come back as a byte stream. Memory use does not grow with the file size.

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use futures::Stream;
use futures::stream::{BoxStream, StreamExt, TryStreamExt};
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};

use crate::{OrgId, StoreError};

/// Where a blob lives: `<org>/<app>/<name>`. Names are app-chosen, `/`-separated, and may not
/// contain empty, `.` or `..` segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobKey(ObjectPath);

impl BlobKey {
    pub fn new(org: OrgId, app: &str, name: &str) -> Result<Self, StoreError> {
        let bad = |cause: &str| StoreError::BlobKey {
            key: format!("{org}/{app}/{name}"),
            cause: cause.to_owned(),
        };
        if app.is_empty()
            || !app
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '-' || c == '_')
        {
            return Err(bad("the app part must be lowercase letters, '-' or '_'"));
        }
        if name.is_empty() || name.len() > 1024 {
            return Err(bad("the name must be 1 to 1024 bytes"));
        }
        if name
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == ".." || s.chars().any(char::is_control))
        {
            return Err(bad(
                "the name may not have empty, '.' or '..' segments or control characters",
            ));
        }
        let path =
            ObjectPath::parse(format!("{org}/{app}/{name}")).map_err(|e| bad(&e.to_string()))?;
        Ok(Self(path))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_ref()
    }
}

/// Opens an object store by URL: `file:///abs/dir`, a relative `file://dir` (resolved against
/// `base`), or `s3://bucket/prefix?endpoint=…&region=…&allow_http=true` (credentials from the
/// usual `AWS_*` environment variables). A local directory is created when `create` is set,
/// and must exist otherwise. Also returns a description without credentials.
pub fn open_object_store(
    url: &str,
    base: &Path,
    create: bool,
) -> Result<(Arc<dyn ObjectStore>, String), StoreError> {
    let bad = |cause: String| StoreError::BlobUrl {
        url: url.to_owned(),
        cause,
    };
    if let Some(rest) = url.strip_prefix("file://") {
        let dir = if rest.starts_with('/') {
            Path::new(rest).to_path_buf()
        } else {
            base.join(rest)
        };
        if create {
            std::fs::create_dir_all(&dir)
                .map_err(|e| bad(format!("cannot create {}: {e}", dir.display())))?;
        } else if !dir.is_dir() {
            return Err(bad(format!("{} is not a directory", dir.display())));
        }
        let fs = LocalFileSystem::new_with_prefix(&dir)
            .map_err(|e| bad(e.to_string()))?
            .with_automatic_cleanup(true);
        return Ok((Arc::new(fs), format!("file://{}", dir.display())));
    }
    if url.starts_with("s3://") {
        let parsed = url::Url::parse(url).map_err(|e| bad(e.to_string()))?;
        let opts: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let mut clean = parsed.clone();
        clean.set_query(None);
        let mut builder = object_store::aws::AmazonS3Builder::from_env().with_url(clean.as_str());
        for (k, v) in opts {
            let key: object_store::aws::AmazonS3ConfigKey = k
                .parse()
                .map_err(|_| bad(format!("unknown S3 option `{k}`")))?;
            builder = builder.with_config(key, v);
        }
        let store = builder.build().map_err(|e| bad(e.to_string()))?;
        let prefix = clean.path().trim_matches('/').to_owned();
        let inner: Arc<dyn ObjectStore> = if prefix.is_empty() {
            Arc::new(store)
        } else {
            Arc::new(object_store::prefix::PrefixStore::new(store, prefix))
        };
        return Ok((inner, clean.to_string()));
    }
    Err(bad("unknown scheme".to_owned()))
}

/// A blob store behind one of object_store's backends.
#[derive(Debug, Clone)]
pub struct BlobStore {
    inner: Arc<dyn ObjectStore>,
    description: String,
}

/// Upload parts kept in flight at once; with object_store's 5 MiB parts that bounds an
/// upload's buffer memory to about 40 MiB whatever its size.
const MAX_PARTS_IN_FLIGHT: usize = 8;

impl BlobStore {
    /// Opens `url`: `file:///abs/dir`, a relative `file://dir` (resolved against `base`), or
    /// `s3://bucket/prefix?endpoint=…&region=…&allow_http=true` (credentials from the usual
    /// `AWS_*` environment variables).
    pub fn open(url: &str, base: &Path) -> Result<Self, StoreError> {
        let (inner, description) = open_object_store(url, base, true)?;
        Ok(Self { inner, description })
    }

    /// Where the blobs are, for logs and status (no credentials).
    pub fn describe(&self) -> &str {
        &self.description
    }

    /// Streams `body` into `key`; returns the number of bytes written. The blob appears only
    /// when the stream ends without error; a failed upload leaves nothing behind.
    pub async fn put_stream<S>(&self, key: &BlobKey, body: S) -> Result<u64, StoreError>
    where
        S: Stream<Item = Result<Bytes, std::io::Error>> + Send,
    {
        let upload = self.inner.put_multipart(&key.0).await?;
        let mut writer = WriteMultipart::new(upload);
        let mut body = std::pin::pin!(body);
        let mut written: u64 = 0;
        while let Some(chunk) = body.next().await {
            let chunk = match chunk {
                Ok(c) => c,
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(StoreError::BlobStream(e));
                }
            };
            if let Err(e) = writer.wait_for_capacity(MAX_PARTS_IN_FLIGHT).await {
                return Err(e.into());
            }
            written += chunk.len() as u64;
            writer.put(chunk);
        }
        writer.finish().await?;
        Ok(written)
    }

    /// Writes a small blob in one piece.
    pub async fn put_bytes(&self, key: &BlobKey, body: Bytes) -> Result<(), StoreError> {
        self.inner.put(&key.0, body.into()).await?;
        Ok(())
    }

    /// Streams a blob back.
    pub async fn get_stream(
        &self,
        key: &BlobKey,
    ) -> Result<BoxStream<'static, Result<Bytes, StoreError>>, StoreError> {
        let got = self
            .inner
            .get(&key.0)
            .await
            .map_err(|e| not_found(e, key))?;
        Ok(got.into_stream().map_err(StoreError::from).boxed())
    }

    /// The size of a blob, or `None` if it does not exist.
    pub async fn size(&self, key: &BlobKey) -> Result<Option<u64>, StoreError> {
        match self.inner.head(&key.0).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes a blob; deleting a missing blob is not an error.
    pub async fn delete(&self, key: &BlobKey) -> Result<(), StoreError> {
        match self.inner.delete(&key.0).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Lists the keys under an organization and app.
    pub async fn list(&self, org: OrgId, app: &str) -> Result<Vec<String>, StoreError> {
        let prefix = ObjectPath::from(format!("{org}/{app}"));
        let metas: Vec<_> = self.inner.list(Some(&prefix)).try_collect().await?;
        Ok(metas.into_iter().map(|m| m.location.to_string()).collect())
    }
}

fn not_found(e: object_store::Error, key: &BlobKey) -> StoreError {
    match e {
        object_store::Error::NotFound { .. } => StoreError::BlobNotFound {
            key: key.as_str().to_owned(),
        },
        other => other.into(),
    }
}

//! The `operators` tree: SHA-256 of a bearer token → [`Account`]. Tokens themselves are never
//! stored; a rotation moves the record to the new token's hash in one transaction, so there is
//! no instant where both tokens, or neither, work.

use sled::transaction::{ConflictableTransactionError, TransactionError};

use super::{engine_error, OperatorChange, SledResult, StoreError, TokenHash};
use crate::operator::Account;

pub(super) fn get(tree: &sled::Tree, hash: &TokenHash) -> Result<Option<Account>, StoreError> {
    match tree.get(hash).db()? {
        Some(bytes) => Ok(Some(Account::decode(&bytes)?)),
        None => Ok(None),
    }
}

pub(super) fn all(tree: &sled::Tree) -> Result<Vec<(TokenHash, Account)>, StoreError> {
    tree.iter()
        .map(|entry| {
            let (key, value) = entry.db()?;
            let hash: TokenHash = key
                .as_ref()
                .try_into()
                .map_err(|_| StoreError::Corrupt("an operator key is not a SHA-256".into()))?;
            Ok((hash, Account::decode(&value)?))
        })
        .collect()
}

/// Applies `change` in one transaction (not yet flushed).
pub(super) fn apply(tree: &sled::Tree, change: &OperatorChange) -> Result<(), StoreError> {
    let encoded: Vec<(TokenHash, Vec<u8>)> = change
        .put
        .iter()
        .map(|(hash, account)| Ok((*hash, account.encode()?)))
        .collect::<Result<_, StoreError>>()?;
    tree.transaction(|tx| {
        for hash in &change.remove {
            tx.remove(&hash[..])?;
        }
        for (hash, bytes) in &encoded {
            tx.insert(&hash[..], bytes.as_slice())?;
        }
        Ok::<(), ConflictableTransactionError<()>>(())
    })
    .map_err(|e| match e {
        TransactionError::Abort(()) => StoreError::Corrupt("operator change aborted".into()),
        TransactionError::Storage(e) => engine_error(e),
    })
}

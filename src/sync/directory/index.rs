//! Who belongs to which group, compactly: memory grows with memberships, not with user records.
//!
//! A user id is packed into 16 bytes ([`UserKey`]): Okta ids are up to 20 characters of
//! `[0-9A-Za-z]`, six bits each, so the id itself is the key and no string is stored per user.
//! Any other id (longer, other characters) gets an overflow slot and still works. Memberships
//! are one flat, sorted table: the user keys (16 bytes per user), and per user a run of `u32`
//! group indices in one shared array (4 bytes per membership), found by binary search. While
//! group members are being listed they are appended as (key, group) pairs (24 bytes each) and
//! sorted once at the end ([`MembershipIndex::seal`]). The few users an incremental cycle
//! changes go to an overlay that shadows their row.
//!
//! (The previous layout, a hash map from a boxed id string to a vector of indices, cost about
//! 215 bytes per membership in an org with one huge group.)

use std::collections::HashMap;

/// A user id packed into 128 bits. Ids of at most 21 characters of `[0-9A-Za-z]` are encoded
/// six bits per character (1..=62, 0 = end), top bit clear; any other id has the top bit set
/// and the index of its overflow slot below.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UserKey(u64, u64);

const OVERFLOW: u64 = 1 << 63;
const MAX_PACKED_CHARS: usize = 21;

fn code(c: u8) -> Option<u64> {
    match c {
        b'0'..=b'9' => Some(u64::from(c - b'0') + 1),
        b'A'..=b'Z' => Some(u64::from(c - b'A') + 11),
        b'a'..=b'z' => Some(u64::from(c - b'a') + 37),
        _ => None,
    }
}

fn char_of(code: u64) -> char {
    let code = code as u8;
    match code {
        1..=10 => (b'0' + code - 1) as char,
        11..=36 => (b'A' + code - 11) as char,
        _ => (b'a' + code - 37) as char,
    }
}

impl UserKey {
    /// The key of a standard id, or `None` when the id needs an overflow slot.
    fn pack(id: &str) -> Option<UserKey> {
        let bytes = id.as_bytes();
        if bytes.is_empty() || bytes.len() > MAX_PACKED_CHARS {
            return None;
        }
        let mut value: u128 = 0;
        for (i, &b) in bytes.iter().enumerate() {
            value |= u128::from(code(b)?) << (6 * i);
        }
        Some(UserKey((value >> 64) as u64, value as u64))
    }

    fn overflow(slot: u32) -> UserKey {
        UserKey(OVERFLOW, u64::from(slot))
    }

    fn overflow_slot(self) -> Option<usize> {
        (self.0 & OVERFLOW != 0).then_some(self.1 as usize)
    }

    fn unpack_into(self, out: &mut String) {
        let mut value = (u128::from(self.0) << 64) | u128::from(self.1);
        while value != 0 {
            out.push(char_of((value & 0x3f) as u64));
            value >>= 6;
        }
    }
}

/// Users (as keys) → group indices.
#[derive(Debug, Default)]
pub struct MembershipIndex {
    /// Sorted, unique.
    users: Vec<UserKey>,
    /// `groups[offsets[i]..offsets[i + 1]]` are the groups of `users[i]`.
    offsets: Vec<u32>,
    groups: Vec<u32>,
    /// Memberships added since the last [`seal`](Self::seal).
    pending: Vec<(UserKey, u32)>,
    /// Users whose groups were replaced after the table was built (deleted users: empty).
    overlay: HashMap<UserKey, Vec<u32>>,
    /// Ids that do not pack, by slot, and the way back.
    overflow_ids: Vec<Box<str>>,
    overflow_slots: HashMap<Box<str>, u32>,
    count: u64,
}

impl MembershipIndex {
    fn key(&self, id: &str) -> Option<UserKey> {
        UserKey::pack(id).or_else(|| self.overflow_slots.get(id).map(|&s| UserKey::overflow(s)))
    }

    fn key_or_insert(&mut self, id: &str) -> UserKey {
        if let Some(key) = self.key(id) {
            return key;
        }
        let slot = self.overflow_ids.len() as u32;
        self.overflow_ids.push(id.into());
        self.overflow_slots.insert(id.into(), slot);
        UserKey::overflow(slot)
    }

    /// The id a key stands for.
    pub fn id_of(&self, key: UserKey) -> String {
        match key.overflow_slot() {
            Some(slot) => self.overflow_ids[slot].to_string(),
            None => {
                let mut id = String::with_capacity(20);
                key.unpack_into(&mut id);
                id
            }
        }
    }

    /// Records a membership while groups are being listed; visible after [`seal`](Self::seal).
    pub fn add(&mut self, user: &str, group: u32) {
        let key = self.key_or_insert(user);
        self.pending.push((key, group));
    }

    /// Sorts what was added into the table (duplicates dropped).
    pub fn seal(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let mut pairs = std::mem::take(&mut self.pending);
        // Rows already in the table take part in the rebuild (rare: the table is normally
        // built once, from empty).
        for (i, &user) in self.users.iter().enumerate() {
            let (from, to) = (self.offsets[i] as usize, self.offsets[i + 1] as usize);
            pairs.extend(self.groups[from..to].iter().map(|&g| (user, g)));
        }
        pairs.sort_unstable();
        pairs.dedup();
        self.users.clear();
        self.offsets.clear();
        self.groups.clear();
        self.groups.reserve_exact(pairs.len());
        for (user, group) in pairs {
            if self.users.last() != Some(&user) {
                self.users.push(user);
                self.offsets.push(self.groups.len() as u32);
            }
            self.groups.push(group);
        }
        self.offsets.push(self.groups.len() as u32);
        self.users.shrink_to_fit();
        self.offsets.shrink_to_fit();
        self.count = self.groups.len() as u64
            + self.overlay.values().map(|g| g.len() as u64).sum::<u64>()
            - self
                .overlay
                .keys()
                .map(|k| self.base_groups(*k).map_or(0, |g| g.len() as u64))
                .sum::<u64>();
    }

    fn base_groups(&self, key: UserKey) -> Option<&[u32]> {
        let i = self.users.binary_search(&key).ok()?;
        Some(&self.groups[self.offsets[i] as usize..self.offsets[i + 1] as usize])
    }

    fn groups_of_key(&self, key: UserKey) -> Option<&[u32]> {
        match self.overlay.get(&key) {
            Some(groups) => Some(groups),
            None => self.base_groups(key),
        }
    }

    /// The group indices of a user; `None` for a user the index has never seen.
    pub fn groups_of(&self, user: &str) -> Option<&[u32]> {
        self.groups_of_key(self.key(user)?)
    }

    /// Replaces a user's groups (an empty list for a user who left every group or was
    /// deleted).
    pub fn set_groups(&mut self, user: &str, mut groups: Vec<u32>) {
        groups.sort_unstable();
        groups.dedup();
        let key = self.key_or_insert(user);
        let old = self.groups_of_key(key).map_or(0, |g| g.len() as u64);
        self.count = self.count - old + groups.len() as u64;
        self.overlay.insert(key, groups);
    }

    /// Every (user id, group index), sealed rows and overlay alike.
    pub fn for_each(&self, mut each: impl FnMut(&str, u32)) {
        let mut id = String::with_capacity(24);
        let mut emit = |key: UserKey, groups: &[u32], id: &mut String| {
            id.clear();
            match key.overflow_slot() {
                Some(slot) => id.push_str(&self.overflow_ids[slot]),
                None => key.unpack_into(id),
            }
            for &group in groups {
                each(id, group);
            }
        };
        for (i, &key) in self.users.iter().enumerate() {
            if !self.overlay.contains_key(&key) {
                let groups = &self.groups[self.offsets[i] as usize..self.offsets[i + 1] as usize];
                emit(key, groups, &mut id);
            }
        }
        for (&key, groups) in &self.overlay {
            emit(key, groups, &mut id);
        }
    }

    /// The ids of a group's members (a scan: for the few groups an incremental cycle renames,
    /// deletes or re-lists).
    pub fn members_of(&self, group: u32) -> Vec<String> {
        let mut members = Vec::new();
        self.for_each(|user, g| {
            if g == group {
                members.push(user.to_string());
            }
        });
        members
    }

    pub fn count(&self) -> u64 {
        self.count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn okta_ids_pack_into_sixteen_bytes_and_back() {
        for id in [
            "00u1abcdefghijklmnop",
            "0",
            "Z",
            "zzzzzzzzzzzzzzzzzzzzz",
            "00g9",
        ] {
            let key = UserKey::pack(id).unwrap_or_else(|| panic!("{id}"));
            assert_eq!(key.overflow_slot(), None);
            let mut back = String::new();
            key.unpack_into(&mut back);
            assert_eq!(back, id);
        }
        assert_eq!(UserKey::pack("a"), UserKey::pack("a"));
        assert_ne!(UserKey::pack("a0"), UserKey::pack("a"));
        for odd in ["", "has-dash", "ü", "zzzzzzzzzzzzzzzzzzzzzz"] {
            assert_eq!(UserKey::pack(odd), None, "{odd}");
        }
    }

    #[test]
    fn memberships_are_found_replaced_and_listed() {
        let mut index = MembershipIndex::default();
        index.add("00u2", 1);
        index.add("00u1", 0);
        index.add("00u1", 2);
        index.add("00u1", 0);
        index.add("odd id/ü", 2);
        index.seal();
        assert_eq!(index.count(), 4);
        assert_eq!(index.groups_of("00u1"), Some(&[0, 2][..]));
        assert_eq!(index.groups_of("odd id/ü"), Some(&[2][..]));
        assert_eq!(index.groups_of("00u9"), None);
        let mut members = index.members_of(2);
        members.sort();
        assert_eq!(members, vec!["00u1", "odd id/ü"]);

        index.set_groups("00u1", vec![1]);
        index.set_groups("00u3", vec![2, 0, 2]);
        index.set_groups("00u2", Vec::new());
        assert_eq!(index.groups_of("00u1"), Some(&[1][..]));
        assert_eq!(index.groups_of("00u3"), Some(&[0, 2][..]));
        assert_eq!(index.groups_of("00u2"), Some(&[][..]));
        assert_eq!(index.count(), 4);
        let mut all = Vec::new();
        index.for_each(|u, g| all.push((u.to_string(), g)));
        all.sort();
        assert_eq!(
            all,
            vec![
                ("00u1".to_string(), 1),
                ("00u3".to_string(), 0),
                ("00u3".to_string(), 2),
                ("odd id/ü".to_string(), 2)
            ]
        );
        // Adding more and sealing again keeps the overlay's answers.
        index.add("00u4", 1);
        index.seal();
        assert_eq!(index.groups_of("00u4"), Some(&[1][..]));
        assert_eq!(index.groups_of("00u1"), Some(&[1][..]));
        assert_eq!(index.count(), 5);
    }
}

//! Every group's members, listed `max_parallel` groups at a time and streamed into the
//! membership index page by page: a group of millions is never held as a list of strings.

use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::index::MembershipIndex;
use super::Directory;
use crate::okta::{OktaClient, OktaError};
use crate::progress::{Phase, Progress};
use crate::sync::cycle::Warnings;

impl Directory {
    /// Lists every group's members, `max_parallel` groups at a time. Pages go into the index
    /// as they arrive: a group of millions is never held as a list of strings.
    pub(super) async fn collect_members(
        &self,
        client: &OktaClient,
        max_parallel: usize,
        warnings: &Warnings,
        progress: &Progress,
    ) -> MemberListing {
        progress.begin(Phase::Members);
        progress.set_total(Phase::Members, self.groups.len() as u64);
        let mut listing = MemberListing {
            rows: MembershipIndex::default(),
            complete: true,
        };
        let (sender, mut pages) = mpsc::channel::<MemberPage>(max_parallel.max(1) * 2);
        let mut tasks = JoinSet::new();
        let mut next = 0usize;
        let mut running = 0usize;
        loop {
            while running < max_parallel.max(1) && next < self.groups.len() {
                let (client, sender) = (client.clone(), sender.clone());
                let group_id = self.groups[next].info.uid.clone();
                let index = next as u32;
                tasks.spawn(async move {
                    let outcome = send_member_pages(&client, &group_id, index, &sender).await;
                    // The receiver outlives every task.
                    let _ = sender.send(MemberPage::Done(index, outcome)).await;
                });
                next += 1;
                running += 1;
            }
            if running == 0 {
                break;
            }
            match pages.recv().await.expect("a task holds a sender") {
                MemberPage::Ids(index, ids, skipped) => {
                    warnings.add_skipped(skipped);
                    for id in ids {
                        listing.rows.add(&id, index);
                    }
                }
                MemberPage::Done(index, outcome) => {
                    running -= 1;
                    progress.advance(Phase::Members, 1);
                    if let Err(error) = outcome {
                        listing.complete = false;
                        let group = &self.groups[index as usize].info.uid;
                        warnings.warn(
                            "group_members",
                            format!("could not read the members of group {group}: {error}; group lists are omitted from this cycle's events"),
                        );
                    }
                }
            }
        }
        while let Some(joined) = tasks.join_next().await {
            if let Err(join_error) = joined {
                std::panic::resume_unwind(join_error.into_panic());
            }
        }
        progress.finish(Phase::Members);
        listing
    }

    pub(super) fn absorb_members(&mut self, listing: MemberListing) {
        self.complete = listing.complete;
        self.members = listing.rows;
        self.members.seal();
    }
}

/// Member rows gathered by [`Directory::collect_members`].
pub(super) struct MemberListing {
    rows: MembershipIndex,
    complete: bool,
}

/// What a member-listing task reports.
enum MemberPage {
    /// A page of member ids of the group at this index, and how many records were unreadable.
    Ids(u32, Vec<String>, usize),
    /// The group's listing ended.
    Done(u32, Result<(), OktaError>),
}

async fn send_member_pages(
    client: &OktaClient,
    group_id: &str,
    index: u32,
    sender: &mpsc::Sender<MemberPage>,
) -> Result<(), OktaError> {
    let mut pager = client.list_group_members(group_id);
    while let Some(page) = pager.next_page().await? {
        let ids = page.items.into_iter().map(|member| member.id).collect();
        // The receiver outlives every task.
        let _ = sender.send(MemberPage::Ids(index, ids, page.skipped)).await;
    }
    Ok(())
}

/// All member ids of one group, page by page.
pub async fn member_ids(
    client: &OktaClient,
    group_id: &str,
) -> Result<(Vec<String>, usize), OktaError> {
    let mut pager = client.list_group_members(group_id);
    let mut ids = Vec::new();
    let mut skipped = 0;
    while let Some(page) = pager.next_page().await? {
        skipped += page.skipped;
        ids.extend(page.items.into_iter().map(|member| member.id));
    }
    Ok((ids, skipped))
}

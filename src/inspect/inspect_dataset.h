/*
 * inspect_dataset.h - `infty-inspect dataset OUT`: turn a finished run
 * directory into OUT/dataset/, a directory the Hugging Face hub and the
 * trainers load as it is (the training file, a dataset card, LLaMA-Factory's
 * dataset_info.json).
 */
#ifndef INFTY_INSPECT_DATASET_H
#define INFTY_INSPECT_DATASET_H

/*
 * Write dir/dataset/ from the finished run dir.  source names where the
 * rows came from (may be NULL), license the hub's license id (NULL: the
 * source's when infty knows it, else "unknown"), repo the hub repository
 * for the card's commands (may be NULL).  Prints its messages and returns
 * the exit status: 0 written (or, when the run has no instance at all,
 * nothing to write: dir/dataset removed); 2 a run that is not finished
 * (nothing written); 3 a read, write or consistency failure (nothing
 * published, an older dir/dataset stays as it was).
 */
int inspect_dataset(const char *dir, const char *source, const char *license, const char *repo);

#endif

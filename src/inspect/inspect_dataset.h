/*
 * inspect_dataset.h - `infty-inspect dataset OUT`: turn a finished run
 * directory into OUT/dataset/, a directory the Hugging Face hub and the
 * trainers load as it is (the training file, a dataset card, LLaMA-Factory's
 * dataset_info.json).
 */
#ifndef INFTY_INSPECT_DATASET_H
#define INFTY_INSPECT_DATASET_H

/*
 * The subcommand with its own options (argv[0] is "dataset").  Prints its
 * messages and returns the exit status: 0 written (or, when the run has no
 * instance at all, nothing to write: OUT/dataset removed); 2 usage error or a run
 * that is not finished (nothing written); 3 a read, write or consistency
 * failure (nothing published, an older OUT/dataset stays as it was).
 */
int inspect_dataset_main(int argc, char **argv);

#endif

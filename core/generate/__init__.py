"""The face generator: a DCGAN trained on a dataset's faces, its training job and its audit.

Front doors: `train_generator(ds, GanConfig(...), epochs, reporter)` (core.generate.train) trains or resumes a
generator, a checkpoint per epoch, under cache/generators/<generator id>/ (core.generate.store);
`audit_generator(ds, meta)` (core.generate.audit) measures what it copies (nearest training face against the
dataset's same-person distance), what it amplifies (attribute prevalence of generated vs real faces, scored by the
stored attribute classifiers) and how many people its faces fall into. `python -m core generate` runs both as one
background job; pages read what it stored.
"""

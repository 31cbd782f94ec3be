"""The lessons, as data: each step names its page, the view to open (URL parameters, README "Links to a view") and
the core function that answers it on the open dataset. Adding a lesson is adding an entry here.
"""

from __future__ import annotations

from functools import partial

from core.classify.models import TrainConfig
from core.data.dataset import Dataset
from core.lessons import answers as a
from core.lessons import generator as g
from core.lessons.data import LESSON_MODEL, LESSON_MODEL_WORDS, LessonData
from core.lessons.model import Lesson, Step

# The classifier the lessons read (base rates, judgements, fairness): one quick logistic regression on face
# embeddings (core.lessons.data.LESSON_MODEL) covers every attribute they ask about.
MODEL_ATTRIBUTES = (
    "Bald",
    "Eyeglasses",
    "Smiling",
    "Attractive",
    "Heavy_Makeup",
    "Male",
    "Young",
    "Wavy_Hair",
    "Blond_Hair",
)
# The fairness lesson's first pair: an attribute rare in one group and common in the other, with enough test images
# of both answers in each group on the demo (tests/test_lessons.py checks it on the default demo's labels).
FAIR_ATTRIBUTE, FAIR_BY = "Wavy_Hair", "Male"


def lesson_model_config(ds: Dataset) -> TrainConfig | None:
    """What the 'Train the lessons' model' button trains on this dataset (None: no attribute the lessons use)."""
    attributes = tuple(x for x in MODEL_ATTRIBUTES if x in ds.attributes)
    return TrainConfig(model=LESSON_MODEL, attributes=attributes) if attributes else None


def _fixed(**params: str):
    return lambda data: dict(params)


def _rare_pair(data: LessonData) -> dict[str, str]:
    rare = a.rarest_present(data, exclude=("Smiling",))
    return {"pair_a": "Smiling", "pair_b": rare} if rare else {"pair_a": "Smiling"}


def _rare_answer(data: LessonData):
    rare = a.rarest_present(data, exclude=("Smiling",))
    return a.small_count(data, "Smiling", rare or "Smiling", ())


def _identity_view(space: str, algo: str, **algo_params):
    return lambda data: a.identity_view(data, space, algo, **algo_params)


def _identity_answer(space: str, algo: str, goal: str, **algo_params):
    return lambda data: a.clustering(data, _identity_view(space, algo, **algo_params)(data), goal, by_identity=True)


BASE_RATES = Lesson(
    "base-rates",
    "Base rates and imbalance",
    "Which attributes are rare, and why 97% accuracy on Bald can mean nothing: the majority baseline and balanced "
    "accuracy.",
    (
        Step(
            "Rare and common attributes",
            "dataset",
            "Which attributes are rare (under 10% of the images), and which are common (over 70%)?",
            "The prevalence bars, sorted from most to least common, and the sentence under the header naming the "
            "rarest attributes with their counts.",
            _fixed(),
            a.rarest_attributes,
        ),
        Step(
            "A detector that never looks",
            "dataset",
            "How many faces are labelled Bald? How accurate is a 'Bald detector' that always answers no?",
            "The Bald donut and the count under it: the share of 'no' is the accuracy of always answering no.",
            _fixed(donuts="Bald"),
            partial(a.presence, attribute="Bald"),
        ),
        Step(
            "Predicting Bald from the other labels",
            "relations",
            "A model predicts Bald from the other 39 labels. Does it beat always answering 'no'? Which figure shows "
            "it best?",
            "'Predict an attribute from the others': accuracy beside majority-class accuracy, then recall, and the "
            "balanced accuracy in the sentence under the figures.",
            _fixed(target="Bald"),
            partial(a.attribute_model, target="Bald"),
        ),
        Step(
            "A classifier that looks at the face",
            "classifiers",
            f"The lessons' classifier, a {LESSON_MODEL_WORDS} (the link opens it): how do its accuracy and balanced "
            "accuracy on Bald compare?",
            "'Threshold, confusion matrix and curves' with Bald chosen: Accuracy beside Balanced accuracy, and the "
            "confusion matrix (how many bald faces it finds).",
            lambda data: a.classifier_params(data, "Bald"),
            partial(a.classifier_scores, attribute="Bald"),
        ),
    ),
)

CONDITIONAL = Lesson(
    "conditional",
    "P(A | B) is not P(B | A)",
    "The share of men who are bald is not the share of bald people who are men; lift says how much more often two "
    "labels meet than chance; few images give wide intervals.",
    (
        Step(
            "Two directions",
            "relations",
            "What share of the faces labelled Male are labelled Bald? What share of the Bald faces are labelled Male?",
            "'One pair' with A = Bald, B = Male: P(Bald | Male) beside P(Male | Bald), and the 2×2 counts below them.",
            _fixed(pair_a="Bald", pair_b="Male"),
            partial(a.pair, a="Bald", b="Male"),
        ),
        Step(
            "Lift",
            "relations",
            "Are eyeglasses more common on faces labelled Male? How many times more than if the two were unrelated?",
            "The lift heatmap (red: together more often than chance, blue: less), then the pair's lift and 'together "
            "vs expected' under it.",
            _fixed(measure="lift", pair_a="Eyeglasses", pair_b="Male"),
            partial(a.pair, a="Eyeglasses", b="Male"),
        ),
        Step(
            "Small counts",
            "relations",
            "Take the rarest attribute (the link picks it): what share of those faces smile, and how sure can you be?",
            "P(Smiling | rarest) with the count and 95% interval written under it; a warning appears when fewer than "
            "30 images carry the condition.",
            _rare_pair,
            _rare_answer,
        ),
    ),
)

JUDGEMENTS = Lesson(
    "judgements",
    "Labels are judgements",
    "Attractive, Heavy_Makeup and Young were judged by annotators looking at photos; how they relate to Male, what "
    "a model trained on them learns, and why correlation is not causation.",
    (
        Step(
            "Who is labelled Attractive?",
            "relations",
            "What share of the faces labelled Male are labelled Attractive, and of the others?",
            "'One pair' with A = Attractive, B = Male: P(Attractive | Male) beside P(Attractive | not Male), and the "
            "note on judged labels.",
            _fixed(pair_a="Attractive", pair_b="Male"),
            partial(a.pair, a="Attractive", b="Male"),
        ),
        Step(
            "Makeup and Male",
            "relations",
            "How often is a face labelled Male also labelled Heavy_Makeup? What does that say about who labelled it?",
            "P(Heavy_Makeup | Male) beside P(Heavy_Makeup | not Male), and the lift heatmap's Male column.",
            _fixed(measure="lift", pair_a="Heavy_Makeup", pair_b="Male"),
            partial(a.pair, a="Heavy_Makeup", b="Male"),
        ),
        Step(
            "What goes with Attractive",
            "relations",
            "Predict Attractive from the other labels: which labels push the answer most? Does makeup cause "
            "attractiveness, or do both follow the annotators' view of the same faces?",
            "'Predict an attribute from the others' with Attractive: the coefficient bars and the strongest labels "
            "named under them.",
            _fixed(target="Attractive"),
            partial(a.attribute_model, target="Attractive"),
        ),
        Step(
            "What a classifier learns",
            "classifiers",
            f"The lessons' classifier, a {LESSON_MODEL_WORDS} trained on these labels: does it say 'Attractive' to "
            "faces labelled Male as often as to the others?",
            "'Subgroups' split by Male: the sentence under the gap gives how often the model says yes in each group "
            "beside how often the labels do.",
            lambda data: a.classifier_params(data, "Attractive", by="Male"),
            partial(a.subgroups, attribute="Attractive", by="Male"),
        ),
    ),
)

EMBEDDINGS = Lesson(
    "embeddings",
    "What a face embedding knows",
    "A face becomes a list of numbers; faces of one person lie close together, look-alikes close too, and the "
    "dataset's own identities say where 'same person' ends.",
    (
        Step(
            "A face as numbers",
            "search",
            "How many faces of this dataset have a descriptor, and how many numbers describe each face?",
            "The line above the query choice: how many faces are searched and how many numbers each has.",
            _fixed(),
            a.embedding_overview,
        ),
        Step(
            "Where 'same person' ends",
            "search",
            "How far apart are two photos of one person, and two photos of different people? Where does the page "
            "draw the line?",
            "Under 'Every face in the dataset by distance': the same-person distance measured on this dataset's "
            "identities, how well it separates them, and the two median distances.",
            partial(a.search_params, k=12),
            a.same_person_distance,
        ),
        Step(
            "Look-alikes",
            "search",
            "Of the faces nearest to this one, how many are the same person? How close is the nearest stranger?",
            "The nearest faces with their distance and identity under each (the link shows at least 12, and enough to "
            "reach the first face of someone else), and the sentence counting those labelled with the query's "
            "identity.",
            a.lookalike_params,
            a.nearest_same_identity,
        ),
    ),
)

CLUSTERING = Lesson(
    "clustering",
    "Grouping faces",
    "Clustering by identity (embeddings) vs by attributes; the DBSCAN trap (one giant cluster at a careless eps) "
    "and the k-distance curve that avoids it; internal vs external scores.",
    (
        Step(
            "Grouping by person",
            "clustering",
            "Cluster the faces of the 20 most photographed people by their embeddings: how many clusters, and how "
            "well do they match the people?",
            "The scores at the top: Clusters and Silhouette (internal), then 'Against the true identities' (ARI, "
            "pairwise F1); the map coloured by identity.",
            _identity_view("embeddings", "chinese_whispers"),
            _identity_answer(
                "embeddings",
                "chinese_whispers",
                "Embeddings were trained to tell people apart, so clusters follow identities.",
            ),
        ),
        Step(
            "Grouping by attributes",
            "clustering",
            "Cluster the same people's faces by their 40 attribute labels into 20 groups: do the groups match the "
            "people? Which score tells you, the silhouette or the ARI?",
            "Silhouette (internal: are the groups compact?) beside ARI and pairwise F1 (external: are they the "
            "people?); the map coloured by identity.",
            _identity_view("attributes", "kmeans", k=a.IDENTITY_SAMPLE),
            _identity_answer(
                "attributes",
                "kmeans",
                "Attribute clusters group looks: the ones a person keeps (hair colour, a beard, Male) follow "
                "identities, those that change between photos (a smile, a hat, glasses) do not. Compare the ARI with "
                "the embeddings' in the step before; a silhouette says nothing about who is who.",
                k=a.IDENTITY_SAMPLE,
            ),
        ),
        Step(
            "The DBSCAN trap",
            "clustering",
            "Run DBSCAN on the same people's faces with eps set to the typical distance between two of them. How "
            "many clusters, and how big is the largest?",
            "The warning 'One cluster holds …' and the Clusters and Noise scores; the k-distance curve below the map "
            "with the eps in use.",
            partial(a.dbscan_params, careless=True),
            partial(a.dbscan, careless=True),
        ),
        Step(
            "eps from the k-distance curve",
            "clustering",
            "Set eps to 0 so the page reads it off the k-distance curve: which eps does it choose, and what changes?",
            "'Choosing eps: the k-distance curve': the knee and the suggested eps; then Clusters and Noise again.",
            partial(a.dbscan_params, careless=False),
            partial(a.dbscan, careless=False),
        ),
    ),
)

FAIRNESS = Lesson(
    "fairness",
    "Fairness: accuracy by subgroup",
    "A classifier's accuracy within groups (Male / not Male, Young / not Young), what a gap means, and why base "
    "rates come first; the worst group of a blond-hair classifier and what a threshold per group trades.",
    (
        Step(
            "Base rates first",
            "relations",
            "How common is wavy hair on faces labelled Male, and on the others?",
            f"'One pair' with A = {FAIR_ATTRIBUTE}, B = {FAIR_BY}: P({FAIR_ATTRIBUTE} | {FAIR_BY}) beside "
            f"P({FAIR_ATTRIBUTE} | not {FAIR_BY}).",
            _fixed(pair_a=FAIR_ATTRIBUTE, pair_b=FAIR_BY),
            partial(a.pair, a=FAIR_ATTRIBUTE, b=FAIR_BY),
        ),
        Step(
            "Wavy hair by Male",
            "classifiers",
            f"Does the lessons' classifier (a {LESSON_MODEL_WORDS}) find wavy hair as well on faces labelled Male, "
            "where it is rare, as on the others?",
            f"'Subgroups' split by {FAIR_BY}: the accuracy gap, the sentence under it, and the table's balanced "
            "accuracy and recall per group.",
            lambda data: a.classifier_params(data, FAIR_ATTRIBUTE, by=FAIR_BY),
            partial(a.subgroups, attribute=FAIR_ATTRIBUTE, by=FAIR_BY),
        ),
        Step(
            "Smiling by Young",
            "classifiers",
            f"Does the same {LESSON_MODEL_WORDS} find smiles as well on faces labelled Young as on older ones? "
            "What could a gap come from: the faces, the labels, or how many of each the model saw?",
            "'Subgroups' split by Young: the gap, the yes-rates beside the labelled rates, and the images per group.",
            lambda data: a.classifier_params(data, "Smiling", by="Young"),
            partial(a.subgroups, attribute="Smiling", by="Young"),
        ),
        Step(
            "Blond hair: the worst group",
            "classifiers",
            f"Most blond faces are women's. Does the lessons' classifier (a {LESSON_MODEL_WORDS}) find blond hair on "
            "faces labelled Male as often as on the others? Which group does it serve worst, and how sure can you be?",
            "'Fairness: the worst group' for Blond_Hair grouped by Male: the worst group and its balanced accuracy, "
            "the equal-opportunity difference, and the true-positive rate per group with its interval in the table.",
            lambda data: a.fairness_params(data, "Blond_Hair", "Male"),
            partial(a.worst_group, attribute="Blond_Hair", by="Male"),
        ),
        Step(
            "A threshold per group",
            "classifiers",
            f"For the same {LESSON_MODEL_WORDS}: what would a separate threshold for each group cost in accuracy, and "
            "how much of the gap in true-positive rates would it close?",
            "'A threshold per group': the trade-off chart (one shared threshold vs a threshold per group) and the "
            "sentence under it.",
            lambda data: a.fairness_params(data, "Blond_Hair", "Male"),
            partial(a.group_thresholds, attribute="Blond_Hair", by="Male"),
        ),
    ),
)

GENERATOR = Lesson(
    "generator",
    "What a generator learns from its data",
    "A generator trained on the dataset's faces makes new ones from noise; it can only recombine what it was shown, "
    "so its faces may copy training faces and carry the dataset's imbalances, amplified.",
    (
        Step(
            "Faces from noise",
            "generate",
            "What does the generator draw after its first epoch, and after its last? Over the last epoch, does the "
            "discriminator still believe some generated faces real?",
            "The epoch slider (the link opens epoch 1; slide to the last), then D(real) and D(fake) of the last epoch "
            "above it and the curves below it.",
            partial(g.view, epoch="1"),
            g.emerging,
        ),
        Step(
            "Copies or new faces?",
            "generate",
            "How many generated faces are closer to a training face than two photos of one person usually are? How "
            "many real photos are that close to another photo?",
            "'What it copies': the two shares, the sentence under them, the distance chart with the same-person line, "
            "and the closest pairs side by side.",
            g.view,
            g.copies,
        ),
        Step(
            "What it amplifies",
            "generate",
            "Which attribute is more common among generated faces than among the training faces, and which rarer? Is "
            "the difference the generator's or the classifier's?",
            "'What it amplifies': the sentences, the table (real faces scored the same way in its last columns) and "
            "the chart, where an attribute above the diagonal became more common.",
            g.view,
            g.amplifies,
        ),
        Step(
            "How many people?",
            "generate",
            "Into how many different people do the generated faces fall, and as many real faces?",
            "'How many people': the two counts and the curve of faces per person.",
            g.view,
            g.people,
        ),
    ),
)

LESSONS: dict[str, Lesson] = {
    lesson.id: lesson for lesson in (BASE_RATES, CONDITIONAL, JUDGEMENTS, EMBEDDINGS, CLUSTERING, FAIRNESS, GENERATOR)
}


def lesson_by_id(lesson_id: str) -> Lesson:
    """The lesson with this id, or ValueError listing the choices."""
    if lesson_id not in LESSONS:
        raise ValueError(f"Unknown lesson {lesson_id!r}; choose one of {', '.join(LESSONS)}.")
    return LESSONS[lesson_id]

"""Facts about CelebA that the project relies on (names, order, sizes)."""

# The 40 attributes in the order of list_attr_celeba.txt.
CELEBA_ATTRIBUTES: tuple[str, ...] = (
    "5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive", "Bags_Under_Eyes", "Bald",
    "Bangs", "Big_Lips", "Big_Nose", "Black_Hair", "Blond_Hair",
    "Blurry", "Brown_Hair", "Bushy_Eyebrows", "Chubby", "Double_Chin",
    "Eyeglasses", "Goatee", "Gray_Hair", "Heavy_Makeup", "High_Cheekbones",
    "Male", "Mouth_Slightly_Open", "Mustache", "Narrow_Eyes", "No_Beard",
    "Oval_Face", "Pale_Skin", "Pointy_Nose", "Receding_Hairline", "Rosy_Cheeks",
    "Sideburns", "Smiling", "Straight_Hair", "Wavy_Hair", "Wearing_Earrings",
    "Wearing_Hat", "Wearing_Lipstick", "Wearing_Necklace", "Wearing_Necktie", "Young",
)  # fmt: skip

CELEBA_IMAGES = 202_599
CELEBA_IDENTITIES = 10_177
# Aligned crops (img_align_celeba) are 178 wide, 218 high.
ALIGNED_SIZE = (178, 218)

# Labels that record an annotator's impression of a face rather than something visible and checkable; pages show
# JUDGEMENT_NOTE beside them. (CelebA's 40 labels were all given by annotators looking at each photo.)
JUDGED_ATTRIBUTES = (
    "Attractive", "Male", "Young", "Pale_Skin", "Chubby", "Heavy_Makeup", "Big_Nose", "Big_Lips",
    "Oval_Face", "Pointy_Nose", "Narrow_Eyes", "Bags_Under_Eyes", "High_Cheekbones", "Rosy_Cheeks",
    "Double_Chin", "Arched_Eyebrows",
)  # fmt: skip
CELEBA_TERMS = (
    "CelebA may be used for non-commercial research only (the authors' agreement, "
    "mmlab.ie.cuhk.edu.hk/projects/CelebA.html); its photos belong to their owners, not to the dataset's authors."
)


def judgement_note(attributes, max_names: int = 4) -> str | None:
    """A sentence saying that these labels are annotators' judgements, or None when none of them is one."""
    judged = [a for a in attributes if a in JUDGED_ATTRIBUTES]
    if not judged:
        return None
    shown = judged[:max_names]
    names = ", ".join(shown) + (f" and {len(judged) - len(shown)} more" if len(judged) > len(shown) else "")
    return (
        f"{names} {'is an annotator' if len(judged) == 1 else 'are annotators'}' judgement of how a face looks, "
        "not a fact about the person (gender, age, skin or attractiveness as a stranger labelled it), and carries "
        "the annotators' biases."
    )

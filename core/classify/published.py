"""Published per-attribute CelebA accuracies (%), carried as constants to show beside our results.

Sources (as summarised in the project's reference table): a MobileNetV2 transfer-learning model
(test set, 37 attributes), LNets+ANet from the CelebA paper (Liu et al. 2015, test set, 37
attributes), and a MobileNetV2 trained 3 epochs at 128 px (validation set, all 40).
"""

# attribute: (MobileNetV2 transfer test %, LNets+ANet test %, MobileNetV2 128px 3 epochs val %)
PUBLISHED_COLUMNS: tuple[str, ...] = ("MobileNetV2 transfer (test)", "LNets+ANet (test)", "MobileNetV2 128px 3ep (val)")
PUBLISHED_ACCURACY_PCT: dict[str, tuple[float | None, float | None, float | None]] = {
    "5_o_Clock_Shadow": (95, 91, 93.95),
    "Arched_Eyebrows": (81, 79, 85.64),
    "Attractive": (None, None, 81.30),
    "Bags_Under_Eyes": (85, 79, 84.22),
    "Bald": (99, 98, 98.97),
    "Bangs": (96, 95, 95.78),
    "Big_Lips": (71, 68, 85.27),
    "Big_Nose": (84, 78, 82.70),
    "Black_Hair": (90, 88, 91.12),
    "Blond_Hair": (96, 95, 95.31),
    "Blurry": (None, None, 96.28),
    "Brown_Hair": (89, 80, 85.55),
    "Bushy_Eyebrows": (92, 90, 92.71),
    "Chubby": (96, 91, 95.56),
    "Double_Chin": (96, 92, 96.48),
    "Eyeglasses": (99, 99, 99.33),
    "Goatee": (97, 95, 96.61),
    "Gray_Hair": (98, 97, 97.82),
    "Heavy_Makeup": (91, 90, 92.25),
    "High_Cheekbones": (87, 87, 87.98),
    "Male": (98, 98, 98.36),
    "Mouth_Slightly_Open": (94, 92, 93.92),
    "Mustache": (97, 95, 95.91),
    "Narrow_Eyes": (87, 81, 91.34),
    "No_Beard": (96, 95, 95.95),
    "Oval_Face": (76, 66, 76.10),
    "Pale_Skin": (None, None, 96.08),
    "Pointy_Nose": (76, 72, 75.71),
    "Receding_Hairline": (93, 89, 94.43),
    "Rosy_Cheeks": (95, 90, 94.54),
    "Sideburns": (98, 96, 97.01),
    "Smiling": (93, 92, 92.40),
    "Straight_Hair": (83, 73, 84.25),
    "Wavy_Hair": (82, 80, 86.03),
    "Wearing_Earrings": (90, 82, 90.82),
    "Wearing_Hat": (99, 99, 98.90),
    "Wearing_Lipstick": (91, 93, 92.97),
    "Wearing_Necklace": (88, 71, 89.06),
    "Wearing_Necktie": (97, 93, 96.45),
    "Young": (88, 87, 87.33),
}


def published_accuracy(attribute: str) -> dict[str, float | None]:
    """The published accuracies (fractions 0-1, None where not reported) for one CelebA attribute."""
    values = PUBLISHED_ACCURACY_PCT.get(attribute, (None, None, None))
    return {name: (v / 100 if v is not None else None) for name, v in zip(PUBLISHED_COLUMNS, values)}
